export type { Answer, ConformanceCase } from "./cases.js";
export { CASES } from "./cases.js";
export {
  type CaseResult,
  type CheckOptions,
  type ConformanceReport,
  type Grade,
  runConformanceCheck,
} from "./check.js";
export { type ProfileSender, SENDERS, type WireRequest } from "./requests.js";
