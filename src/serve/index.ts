export type * from "./api-types.js";
export { ExplorerData, type ExplorerOptions } from "./data.js";
export { HttpError, pathSegments, ResultsRoot } from "./files.js";
export { type RunningExplorer, type ServeOptions, startExplorer } from "./server.js";
