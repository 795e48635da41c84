export { type ClassMeans, classMeans } from "../linalg/class-means.js";
export {
  bottomNeurons,
  type NeuronOrdering,
  neuronOrdering,
  type TopNeurons,
  takeTop,
  topNeurons,
} from "./lca.js";
export { type ProbelessRanking, probelessRanking, rankDescending } from "./probeless.js";
export { randomOrdering } from "./random.js";
