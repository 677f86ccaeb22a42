export { disposeGrids, overlapGrids, type SereGridSides, type SereGrids, sereGrids } from "./grids.js";
export {
  type ComputeSettings,
  type SereInputs,
  type SereLosses,
  SereObjective,
  type SereObjectiveOptions,
  type StudentInput,
} from "./objective.js";
export { objectiveOptionsSchema, type ResolvedObjectiveOptions, resolveObjectiveOptions } from "./options.js";
export { channelRelation, sampleMap, sampleRelation, spatialRelation } from "./relations.js";
