// npm run bench [-- --suite delivery,operations,listen,log] [-- --events 50000 --rounds 3]
//   [-- --store postgres --workers 1,2,4] [-- --profiles sendbird,standard,stream,stream-gzip]
//   [-- --no-hooks] [-- --log-level info]
// Every figure is a ratio against a baseline measured in the same run: see each suite's file.
import { deliveryBench } from "./delivery.bench.js";
import { listenBench } from "./listen.bench.js";
import { logBench } from "./log.bench.js";
import { operationsBench } from "./operations.bench.js";
import { values } from "./options.js";

const SUITES: Record<string, () => Promise<void>> = {
  delivery: deliveryBench,
  operations: operationsBench,
  listen: listenBench,
  log: logBench,
};

if (values.help) {
  console.log(`npm run bench [-- options]
  --suite delivery,operations   which suites run (default delivery,operations; also by name: listen,
                                log: the delivery log's listings over 300,000 deliveries on both stores)
  --events N                    events per rate round (default 50000)
  --rounds N                    rounds per measurement; medians are reported (default 3)
  --batch N                     events per publish batch (default 500)
  --concurrency N               the bare loop's connections (default 32)
  --latency-seconds N           length of each steady-latency phase (default 15)
  --store sqlite|postgres       delivery suite: postgres adds scale-out rounds and a BullMQ baseline
  --workers 1,2,4               delivery suite on postgres: worker processes per round
  --profiles sendbird,...       delivery suite: which wire formats (sendbird, standard, stream, stream-gzip)
  --no-hooks                    delivery suite: skip the before-message-send round
  --operations timeouts,...     operations suite: which rounds run (default timeouts,fairness,before;
                                also isolated: app A floods a Herald of its own, B's p99 against alone;
                                limited: app A floods past a publish rate limit of its own;
                                fanout: a 1 MB event to 100 endpoints, the slowest /healthz meanwhile)
  --flood-limit 1000            operations suite, round limited: app A's publish rate limit, events/s
  --before e4d7ab7              operations suite, round before: the commit the rate and CPU per event are compared with
  --log-level warn              Herald's log level in the benched processes`);
  process.exit(0);
}
const suites = values.suite.split(",").map((name) => name.trim());
for (const name of suites) {
  if (!(name in SUITES)) throw new Error(`--suite: no suite "${name}"; known: ${Object.keys(SUITES).join(", ")}`);
}
for (const name of suites) await SUITES[name]!();
