// The few WASI (preview1) imports the TinyLM module uses, written for browsers, Workers and
// Node alike. The module does no file or network I/O: stdout/stderr go to the console,
// randomness comes from crypto.getRandomValues, and everything else is a harmless stub.

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_NOSYS = 52;

export class WasiExit extends Error {
  constructor(code) {
    super(`wasm module exited with code ${code}`);
    this.name = 'WasiExit';
    this.code = code;
  }
}

/**
 * Creates the `wasi_snapshot_preview1` import object. `getMemory` returns the module's
 * WebAssembly.Memory (known only after instantiation).
 */
export function createWasiImports(getMemory, { stdout = (line) => console.log(line), stderr = (line) => console.warn(line) } = {}) {
  const decoder = new TextDecoder();
  const pending = { 1: '', 2: '' };
  const view = () => new DataView(getMemory().buffer);
  const bytes = () => new Uint8Array(getMemory().buffer);

  function write(fd, text) {
    pending[fd] += text;
    let newline;
    while ((newline = pending[fd].indexOf('\n')) >= 0) {
      (fd === 1 ? stdout : stderr)(pending[fd].slice(0, newline));
      pending[fd] = pending[fd].slice(newline + 1);
    }
  }

  return {
    fd_write(fd, iovs, iovsLength, writtenPointer) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const dv = view();
      let written = 0;
      for (let i = 0; i < iovsLength; i++) {
        const base = dv.getUint32(iovs + i * 8, true);
        const length = dv.getUint32(iovs + i * 8 + 4, true);
        write(fd, decoder.decode(bytes().slice(base, base + length))); // a copy: TextDecoder refuses shared memory
        written += length;
      }
      dv.setUint32(writtenPointer, written, true);
      return ERRNO_SUCCESS;
    },
    fd_close: () => ERRNO_SUCCESS,
    fd_seek: () => ERRNO_NOSYS,
    fd_fdstat_get: () => ERRNO_NOSYS,
    fd_read: () => ERRNO_NOSYS,
    random_get(pointer, length) {
      // getRandomValues takes at most 65536 bytes at a time and no shared memory views.
      const target = bytes();
      for (let offset = 0; offset < length; offset += 65536) {
        const chunk = new Uint8Array(Math.min(65536, length - offset));
        crypto.getRandomValues(chunk);
        target.set(chunk, pointer + offset);
      }
      return ERRNO_SUCCESS;
    },
    clock_time_get(_clock, _precision, timePointer) {
      const nanoseconds = BigInt(Math.round(performance.now() * 1e6));
      view().setBigUint64(timePointer, nanoseconds, true);
      return ERRNO_SUCCESS;
    },
    environ_sizes_get(countPointer, sizePointer) {
      const dv = view();
      dv.setUint32(countPointer, 0, true);
      dv.setUint32(sizePointer, 0, true);
      return ERRNO_SUCCESS;
    },
    environ_get: () => ERRNO_SUCCESS,
    args_sizes_get(countPointer, sizePointer) {
      const dv = view();
      dv.setUint32(countPointer, 0, true);
      dv.setUint32(sizePointer, 0, true);
      return ERRNO_SUCCESS;
    },
    args_get: () => ERRNO_SUCCESS,
    proc_exit(code) {
      throw new WasiExit(code);
    },
  };
}
