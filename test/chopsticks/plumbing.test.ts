// The chain plumbing (src/tangle: TxSender, followChainEvents) against the real Tangle
// testnet runtime of January 2024 (spec 601), booted offline by chopsticks in genesis mode:
// signing with Tangle's signed extensions, fees, concurrent nonces and a stale one, finalized
// events in order, a node restart, and catching up on missed blocks.
import { startChopsticks } from '../../chain/chopsticks/index.js';
import { describePlumbing } from './plumbing-suite.js';

describePlumbing('chain plumbing on the real Tangle runtime (chopsticks, genesis mode)', () => startChopsticks());
