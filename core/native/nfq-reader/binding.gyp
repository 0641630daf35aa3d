{
  "targets": [
    {
      "target_name": "nfq_reader",
      "sources": ["nfq_reader.c"],
      "libraries": ["-lnetfilter_queue", "-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
