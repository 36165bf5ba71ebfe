import { describeSagaStore } from '../testing/describe-saga-store.ts';
import { memorySagaStore } from './memory-saga-store.ts';

describeSagaStore('memory', () => memorySagaStore());
