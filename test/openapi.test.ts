import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { call, startHerald, type TestHerald } from "./helpers/herald.js";

type Json = Record<string, any>;

/** Every route of the native API, written out here rather than read from the server. */
const NATIVE_ROUTES = [
  "post /v1/events",
  "get /v1/events",
  "post /v1/events/batch",
  "get /v1/events/{id}",
  "get /v1/deliveries",
  "get /v1/deliveries/{id}",
  "post /v1/deliveries/{id}/retry",
  "get /v1/catalog",
  "post /v1/endpoints",
  "get /v1/endpoints",
  "get /v1/endpoints/{id}",
  "patch /v1/endpoints/{id}",
  "delete /v1/endpoints/{id}",
  "post /v1/endpoints/{id}/secret/rotate",
  "post /v1/tokens",
  "get /v1/tokens",
  "delete /v1/tokens/{id}",
  "post /v1/tokens/master/rotate",
  "post /v1/apps",
  "get /v1/apps",
  "get /v1/apps/{id}",
  "post /v1/apps/{id}/rotate-token",
  "delete /v1/apps/{id}",
];

describe("GET /openapi.json", () => {
  let h: TestHerald;
  before(async () => (h = await startHerald()));
  after(() => h.close());

  it("is an OpenAPI 3.1 document that a standard validator accepts, listing every native route", async () => {
    const { status, body } = await call(h.url, "GET", "/openapi.json");
    assert.equal(status, 200);
    assert.equal(body.openapi, "3.1.0");
    const result = await new Validator().validate(body);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2)?.slice(0, 2000));
    const listed = Object.entries(body.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    for (const route of NATIVE_ROUTES) assert.ok(listed.includes(route), `${route} missing from ${listed.join(", ")}`);
    // Each documented operation says what its errors look like.
    const endpointCreate = body.paths["/v1/endpoints"].post;
    assert.ok(endpointCreate.requestBody.content["application/json"].schema.properties.url);
    assert.ok(endpointCreate.responses["400"]);
    // A store that does not answer is a 503 on every route that lists its errors; a publish whose
    // app is deleted meanwhile, a 404.
    const listingErrors = Object.entries(body.paths as Record<string, Record<string, Json>>).flatMap(
      ([path, methods]) =>
        Object.entries(methods)
          .filter(([, operation]) => Object.keys(operation.responses).some((status) => status.startsWith("4")))
          .map(([method, operation]) => ({ route: `${method} ${path}`, operation })),
    );
    assert.ok(listingErrors.length >= NATIVE_ROUTES.length);
    for (const { route, operation } of listingErrors) assert.ok(operation.responses["503"], `${route} leaves out 503`);
    for (const path of ["/v1/events", "/v1/events/batch"]) {
      assert.deepEqual(
        ["404", "503"].filter((status) => !body.paths[path].post.responses[status]),
        [],
        `POST ${path}`,
      );
    }
  });

  it("documents request schemas that the server enforces", async () => {
    const app = await h.createApp();
    const { body } = await call(h.url, "GET", "/openapi.json");
    const patch = body.paths["/v1/endpoints/{id}"].patch.requestBody.content["application/json"].schema;
    assert.equal(patch.additionalProperties, false);
    const refused = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: "http://127.0.0.1:9/x", not_in_the_schema: 1 },
    });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /not_in_the_schema/);
  });
});
