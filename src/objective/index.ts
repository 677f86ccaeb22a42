export { overlapGrids, sereGrids, disposeGrids, type SereGrids, type SereGridSides } from "./grids.js";
export { channelRelation, spatialRelation, sampleMap, sampleRelation } from "./relations.js";
export {
  SereObjective,
  type SereObjectiveOptions,
  type SereInputs,
  type ComputeSettings,
  type SereLosses,
  type StudentInput,
} from "./objective.js";
export { objectiveOptionsSchema, resolveObjectiveOptions, type ResolvedObjectiveOptions } from "./options.js";
