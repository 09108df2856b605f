// Drive the Pirsch simulator with the official JS client (pirsch-sdk, pinned in package-lock.json).
//
// Usage: node drive.mjs <base URL (sandbox URL + /pirsch)> <client id> <client secret> <access key>
//        [domain id] [day YYYY-MM-DD]
// Calls every read method of an oAuth client and every write method (single and batch) of an oAuth
// client and of an access-key client, then prints {method: "ok" | "error: ..."} as JSON; exits 1 when
// any call failed (an exception, an error object returned, or an unexpected result shape).
import { Pirsch } from "pirsch-sdk";

const [baseUrl, clientId, clientSecret, accessKey, domainArg, dayArg] = process.argv.slice(2);
if (!baseUrl || !clientId || !clientSecret || !accessKey) {
  console.error("usage: node drive.mjs <base URL> <client id> <client secret> <access key> [domain id] [day]");
  process.exit(2);
}

const hostname = "shop.example.com";
const oauth = new Pirsch({ baseUrl, clientId, clientSecret, hostname, timeout: 10000 });
const keyed = new Pirsch({ baseUrl, accessToken: accessKey, hostname, timeout: 10000 });
const report = {};

function isError(value) {
  return value instanceof Error || (value && typeof value === "object" && "code" in value && "error" in value);
}

async function check(name, call, shape = () => true) {
  try {
    const result = await call();
    if (isError(result)) {
      report[name] = `error: ${JSON.stringify(result)}`;
    } else if (!shape(result)) {
      report[name] = `error: unexpected result ${JSON.stringify(result).slice(0, 200)}`;
    } else {
      report[name] = "ok";
    }
  } catch (error) {
    report[name] = `error: ${error?.message ?? ""} ${JSON.stringify(error)}`.slice(0, 400);
  }
}

const list = (value) => value === null || Array.isArray(value);
const object = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const day = dayArg ?? "2024-06-01";
const at = (hour) => new Date(`${day}T${String(hour).padStart(2, "0")}:00:00Z`).toISOString();
const hit = (n) => ({
  url: `https://${hostname}/p/${n}?utm_source=sdk`,
  ip: `198.51.100.${n}`,
  user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
  accept_language: "en-US",
  title: `Page ${n}`,
  referrer: "https://google.com",
  screen_width: 1920,
  screen_height: 1080,
  tags: { ab: "b" },
});
const session = (n) => ({ ip: `198.51.100.${n}`, user_agent: hit(n).user_agent });

// Writes: the oAuth client's first one goes out with an empty Bearer, is answered 401, fetches a token.
for (const [who, client, base] of [["oauth", oauth, 10], ["access_key", keyed, 20]]) {
  await check(`${who}.hit`, () => client.hit(hit(base + 1)));
  await check(`${who}.batchHits`, () => client.batchHits([{ ...hit(base + 2), time: at(9) }, { ...hit(base + 3), time: at(10) }]));
  await check(`${who}.event`, () => client.event("Signup", hit(base + 4), 12, { plan: "pro", seats: 3, trial: true }));
  await check(`${who}.batchEvents`, () => client.batchEvents([
    { name: "Download", hit: hit(base + 5), time: at(9), duration: 4, meta: { file: "guide-1.pdf" } },
    { name: "Newsletter", hit: hit(base + 6), time: at(10) },
  ]));
  await check(`${who}.session`, () => client.session(session(base + 7)));
  await check(`${who}.batchSessions`, () => client.batchSessions([{ ...session(base + 8), time: at(11) }]));
}

// Reads (oAuth only: the client refuses them locally with an access key).
let domainId = domainArg;
await check("domain", async () => {
  const domain = await oauth.domain();
  if (!isError(domain)) domainId = domainId ?? domain.id;
  return domain;
}, (d) => object(d) && typeof d.id === "string" && typeof d.timezone === "string");

const filter = { id: domainId, from: new Date(`${day}T00:00:00Z`), to: new Date(`${day}T00:00:00Z`), tz: "Europe/Berlin" };
const reads = {
  sessionDuration: [filter, list], timeOnPage: [filter, list], utmSource: [filter, list],
  utmMedium: [filter, list], utmCampaign: [filter, list], utmContent: [filter, list], utmTerm: [filter, list],
  totalVisitors: [filter, object], visitors: [filter, list], entryPages: [filter, list], exitPages: [filter, list],
  pages: [{ ...filter, offset: 0, limit: 100 }, list], conversionGoals: [filter, list], events: [filter, list],
  eventMetadata: [{ ...filter, event: "Signup", event_meta_key: "plan" }, list], listEvents: [filter, list],
  eventPages: [{ ...filter, event: "Signup" }, list], growth: [filter, object], activeVisitors: [{ ...filter, start: 600 }, object],
  timeOfDay: [filter, list], languages: [filter, list], referrer: [filter, list], os: [filter, list],
  osVersions: [filter, list], browser: [filter, list], browserVersions: [filter, list], country: [filter, list],
  region: [filter, list], city: [filter, list], platform: [filter, object], screen: [filter, list],
  tagKeys: [filter, list], tags: [{ ...filter, tag: "ab" }, list], keywords: [filter, list],
  listFunnel: [filter, list], funnel: [{ ...filter, funnel_id: "funnel1" }, list],
};
for (const [name, [args, shape]] of Object.entries(reads)) {
  await check(name, () => oauth[name](args), shape);
}
// A range of several days, as dashboards ask it (from/to as full timestamps).
await check("visitors.range", () => oauth.visitors({ ...filter, from: new Date("2024-05-30T00:00:00Z") }), list);

console.log(JSON.stringify(report, null, 2));
process.exit(Object.values(report).every((v) => v === "ok") ? 0 : 1);
