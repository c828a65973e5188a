export { CONFIG_VARIABLES, type HeraldConfig, loadConfig } from "./core/config.js";
export { HeraldError } from "./core/errors.js";
export { createHerald, type Herald, type HeraldOptions } from "./herald.js";
export type { DeliveryPolicy, Profile } from "./profiles/profile.js";
export type { Store } from "./storage/store.js";
