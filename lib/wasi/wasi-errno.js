'use strict'
// The one exception type of lib/wasi: a preview1 errno that a WASI function
// returns to the guest instead of throwing it to JS.

class WasiErrno {
  constructor(errno) {
    this.errno = errno
  }
}

module.exports = { WasiErrno }
