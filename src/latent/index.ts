export { alignLayer, type ClusterSets } from "./align.js";
export {
  CATEGORY_FAMILIES,
  type CategoryFamily,
  casingOf,
  isCategoryFamily,
  type TokenCategories,
  tokenCategories,
} from "./categories.js";
export { cutTree } from "./cut.js";
export * from "./format.js";
export { type SelectionOptions, selectTokens, type TokenSelection } from "./select.js";
export { LATENT_DEFAULTS, type LatentStageOptions, type LatentStageResult, runLatent } from "./stage.js";
export { formatLatentSummary, type LatentSummary, latentSummary } from "./summary.js";
export { type WardOptions, type WardStats, wardLinkage, wardLinkageWithStats } from "./ward.js";
