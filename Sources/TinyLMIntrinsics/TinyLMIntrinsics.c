// The module is header-only (include/TinyLMIntrinsics.h); SwiftPM needs one source file.
