/** One webhook category a profile can deliver: the data that describes it, nothing that runs. */
export interface CatalogEntry {
  /** Wire name, e.g. `group_channel:message_send`. */
  readonly category: string;
  /** The group it is listed under, e.g. `group_channel`. */
  readonly group: string;
  readonly description: string;
  /** A realistic payload, as a receiver gets it. */
  readonly sample: Readonly<Record<string, unknown>>;
  /** Legacy categories: accepted in settings and on publish, left out of `all_webhook_categories`. */
  readonly hidden?: boolean;
}
