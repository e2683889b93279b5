// The one thing Node-API cannot do for heron: make a SharedArrayBuffer over memory it does
// not own (napi_create_external_arraybuffer makes ArrayBuffers only). Built by build.rs
// against the headers of the Node that builds the package, and linked into the addon.
//
// It calls only V8 functions every supported Node exports with the same signature (checked
// with `nm -D --defined-only` on Node 20, 22, 24 and 26):
//   v8::Isolate::GetCurrent()
//   v8::SharedArrayBuffer::NewBackingStore(void*, size_t, DeleterCallback, void*)
//   v8::SharedArrayBuffer::New(Isolate*, std::shared_ptr<BackingStore>)
// and turns the Local into a napi_value the way Node's own Node-API does
// (v8impl::JsValueFromV8LocalValue): both are one pointer to the value's handle slot.
#include <cstring>
#include <memory>
#include <node_api.h>
#include <v8.h>

extern "C" {

// A new SharedArrayBuffer over [data, data + length), in the current handle scope (the
// calling Node-API callback's). `release(data, length, owner)` runs, on any thread, when V8
// frees the backing store, which every clone of the buffer (in any Worker) keeps alive.
// Null if V8 failed (an exception may then be pending).
napi_value heron_create_shared_array_buffer(void* data, size_t length,
                                            void (*release)(void*, size_t, void*),
                                            void* owner) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return nullptr;
  std::shared_ptr<v8::BackingStore> store =
      v8::SharedArrayBuffer::NewBackingStore(data, length, release, owner);
  v8::Local<v8::SharedArrayBuffer> buffer = v8::SharedArrayBuffer::New(isolate, store);
  if (buffer.IsEmpty()) return nullptr;
  static_assert(sizeof(napi_value) == sizeof(buffer), "a Local is one pointer");
  napi_value result;
  std::memcpy(&result, &buffer, sizeof(buffer));
  return result;
}

}  // extern "C"
