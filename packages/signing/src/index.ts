export {
  encodeSendbirdJson,
  SENDBIRD_LEGACY_SIGNATURE_HEADER,
  SENDBIRD_SIGNATURE_HEADER,
  signSendbird,
  verifySendbird,
} from "./sendbird.js";
