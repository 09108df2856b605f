// Ask LeadConduit's own field types (leadconduit-types, pinned in package-lock.json) what an email is.
//
// Usage: node normalize.mjs < values.json
// Reads a JSON array of strings on stdin and prints a JSON array with, for each, the email type's
// parse result: {"valid": bool, "normal": string}. "normal" is what types.normalize() stores for the
// field (the parsed String's value: email-addresses' address, lower-cased, when valid; the input
// unchanged when not).
import types from "leadconduit-types";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const values = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const results = values.map((value) => {
  const parsed = types.email.parse(value);
  return { valid: parsed.valid === true, normal: types.normalize(parsed).normal ?? String(parsed) };
});
console.log(JSON.stringify(results));
