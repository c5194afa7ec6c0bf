// An example client of arcgate's REST API with types generated from the
// OpenAPI document it serves (generate.mjs) and openapi-fetch: it lists
// services, gets one, patches it with an update mask (a long-running
// operation, waited for with POST /v1/operations/{id}:wait), and reads the
// google.rpc.ErrorInfo of an error.
//
//   ARCGATE_URL=http://127.0.0.1:8080 ARCGATE_API_KEY=... node dist/client.js
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/arcgate.js";

type Status = components["schemas"]["rpcStatus"];
type Operation = components["schemas"]["longrunningOperation"];
type Service = components["schemas"]["v1Service"];

const baseUrl = process.env.ARCGATE_URL || "http://127.0.0.1:8080";
const key = process.env.ARCGATE_API_KEY;
const client = createClient<paths>({ baseUrl, headers: key ? { "X-Api-Key": key } : {} });

// errorInfo returns the reason and domain of a google.rpc.Status's ErrorInfo.
function errorInfo(status: Status | undefined): string {
  const info = status?.details?.find((d) => d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo");
  return info ? `${String(info["reason"])} ${String(info["domain"])}` : "no ErrorInfo";
}

function fail(what: string, status: Status | undefined): never {
  throw new Error(`${what}: ${status?.message ?? "no error body"} (${errorInfo(status)})`);
}

// wait waits for a long-running operation until it is done:
// POST /v1/operations/{id}:wait answers when it is done or after the
// timeout. (The Operations routes are not in the OpenAPI document: plain
// fetch.)
async function wait(op: Operation): Promise<Operation> {
  while (!op.done) {
    const r = await fetch(`${baseUrl}/v1/${op.name}:wait`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(key ? { "X-Api-Key": key } : {}) },
      body: JSON.stringify({ timeout: "30s" }),
    });
    if (!r.ok) fail("wait", (await r.json()) as Status);
    op = (await r.json()) as Operation;
  }
  return op;
}

// List: every folder's services, one page.
const list = await client.GET("/v1/folders/{folder}/services", {
  params: { path: { folder: "-" }, query: { pageSize: 50 } },
});
if (list.error) fail("list", list.error);
for (const s of list.data.services ?? []) {
  console.log(`service ${s.name} ${s.typeName}`);
}

// Get one, in the root folder.
const got = await client.GET("/v1/services/{service}", {
  params: { path: { service: "SampleWorldCities.MapServer" } },
});
if (got.error) fail("get", got.error);
console.log(`got ${got.data.name} description=${JSON.stringify(got.data.description ?? "")}`);

// Patch its description only: the mask names the field.
const description = process.argv[2] ?? "patched by the TypeScript client";
const patched = await client.PATCH("/v1/services/{service}", {
  params: { path: { service: "SampleWorldCities.MapServer" }, query: { updateMask: "description" } },
  body: { description },
});
if (patched.error) fail("patch", patched.error);
const done = await wait(patched.data);
if (done.error) fail("patch", done.error as Status);
const svc = done.response as unknown as Service;
console.log(`patched ${svc.name} description=${JSON.stringify(svc.description ?? "")}`);

// An error: a service that does not exist.
const missing = await client.GET("/v1/services/{service}", {
  params: { path: { service: "NoSuchService.MapServer" } },
});
if (!missing.error) throw new Error("got a service that does not exist");
console.log(`error ${missing.response.status} code=${missing.error.code} ${errorInfo(missing.error)}`);
