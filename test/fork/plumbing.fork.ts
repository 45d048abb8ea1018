// The chain plumbing checks of test/chopsticks/plumbing.test.ts, on a chopsticks fork of the
// live endpoint FAAS_FORK_ENDPOINT: the same bodies, against the live runtime and state.
import { startChopsticks } from '../../chain/chopsticks/index.js';
import { describePlumbing } from '../chopsticks/plumbing-suite.js';
import { block, endpoint } from './endpoint.js';

describePlumbing(`chain plumbing on a fork of ${endpoint}`, () => startChopsticks({ endpoint, block }));
