// Importing a type module registers it with the builder; the order does not matter.
import { builder } from '../builder.js';
import './scalars.js';
import './enums.js';
import './node.js';
import './errors.js';
import './system.js';
import './connection.js';
import './envVar.js';
import './taskDefinition.js';
import './cluster.js';
import './runStatus.js';
import './runEvent.js';
import './runLog.js';
import './run.js';
import './runMutations.js';
import './template.js';
import './subscriptions.js';

export const schema = builder.toSchema({ sortSchema: true });
