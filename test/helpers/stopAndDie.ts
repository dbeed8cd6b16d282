// Run as a child process by test/integration/durableStop.test.ts: an API instance that
// stops a run through the run service (the verb REST and GraphQL call) and is SIGKILLed
// the moment the stop is committed, before it could terminate anything on the engine.
// The STOPPED event is published right after the commit, on the in-process bus, whose
// subscribers run inside publish: the kill lands between the commit and the terminate.
//
//   node --import tsx test/helpers/stopAndDie.ts <run_id>    (DATABASE_URL set)
import { loadConfig } from '../../src/config.js';
import { createDatabase } from '../../src/db/client.js';
import { createServices } from '../../src/domain/services.js';
import { createMemoryBus } from '../../src/events/memoryBus.js';
import { silentLogger } from '../../src/logger.js';

const runId = process.argv[2];
if (!runId || !process.env.DATABASE_URL) throw new Error('usage: DATABASE_URL=… stopAndDie.ts <run_id>');
const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' }, 'serve');
const database = await createDatabase({ url: process.env.DATABASE_URL });
const bus = createMemoryBus();
bus.subscribe(
  'run.status',
  (e) => {
    if (e.status === 'STOPPED') process.kill(process.pid, 'SIGKILL');
  },
  runId,
);
const services = createServices({ db: database.db, bus, config, logger: silentLogger });
await services.runs.stop(runId);
// Not reached: the process died inside the stop.
process.exit(3);
