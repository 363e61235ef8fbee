// The two IndexedDB helpers every store here needs: a request as a promise, and a
// transaction's end as a promise (rejected with the transaction's error, or AbortError).
import { namedError } from './protocol.js';

export function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? namedError('AbortError', 'IndexedDB transaction aborted'));
  });
}
