export {
  bottomNeurons,
  type NeuronOrdering,
  neuronOrdering,
  type TopNeurons,
  takeTop,
  topNeurons,
} from "./lca.js";
export { classMeans, type ProbelessRanking, probelessRanking, rankDescending } from "./probeless.js";
export { randomOrdering } from "./random.js";
