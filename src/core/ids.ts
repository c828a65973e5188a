import { randomBytes, randomUUID } from "node:crypto";

/** A Sendbird-style application id: an uppercase UUID. */
export const newAppId = (): string => randomUUID().toUpperCase();
/** A Sendbird-style API token: 40 lowercase hex characters. */
export const newApiToken = (): string => randomBytes(20).toString("hex");
export const newEndpointId = (): string => `ep_${randomBytes(12).toString("hex")}`;
export const newEventId = (): string => `evt_${randomBytes(12).toString("hex")}`;
/** A delivery's id is the webhook id receivers see on every attempt: a UUID, as Stream uses. */
export const newDeliveryId = (): string => randomUUID();
