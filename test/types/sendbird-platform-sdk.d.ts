// The package ships no types; this declares only what the tests use, as its JS defines it.
declare module "sendbird-platform-sdk" {
  export class ApiClient {
    constructor(basePath?: string);
    basePath: string;
  }
  export class ChooseWhichEventsToSubscribeToData {
    constructor(enabled?: boolean, url?: string);
    enabled?: boolean;
    url?: string;
    include_members?: boolean;
    enabled_events?: string[];
  }
  export interface WebhookSettings {
    enabled: boolean;
    url: string;
    include_members: boolean;
    include_unread_count: boolean;
    enabled_events: string[];
    all_webhook_categories?: string[];
  }
  export class WebhooksApi {
    constructor(client?: ApiClient);
    chooseWhichEventsToSubscribeTo(
      apiToken: string,
      opts?: { chooseWhichEventsToSubscribeToData?: ChooseWhichEventsToSubscribeToData },
    ): Promise<{ webhook: WebhookSettings }>;
    retrieveListOfSubscribedEvents(
      apiToken: string,
      opts?: { displayAllWebhookCategories?: boolean },
    ): Promise<{ webhook: WebhookSettings }>;
  }
  const sdk: {
    ApiClient: typeof ApiClient;
    WebhooksApi: typeof WebhooksApi;
    ChooseWhichEventsToSubscribeToData: typeof ChooseWhichEventsToSubscribeToData;
  };
  export default sdk;
}
