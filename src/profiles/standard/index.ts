import type { Profile } from "../profile.js";
import { standardWireFormat } from "./wire-format.js";

/**
 * Standard Webhooks: a wire format only. It carries any vocabulary's events, and its endpoints are
 * managed through Herald's own `/v1/endpoints`.
 */
export const standardWebhooks: Profile = { vocabularies: [], wireFormats: [standardWireFormat], apis: [] };
