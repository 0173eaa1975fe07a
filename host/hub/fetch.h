// Producing one blob: download into a process-unique "blobs/<etag>.<8hex>.incomplete", resume what
// an earlier (killed) run left behind, fetch large files as parallel byte ranges, retry with backoff,
// verify the content hash, then move the file to blobs/<etag>. The caller holds the blob's lock.
//
// Resume bookkeeping: next to the partial file a small "<partial>.ranges" JSON lists the byte ranges
// already written (parallel ranges leave holes, so the file length says nothing). A partial without
// one (huggingface_hub's classic shared "<etag>.incomplete") counts as a contiguous prefix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "hub/config.h"
#include "hub/progress.h"
#include "hub/url.h"

namespace ft::hub {

struct FetchJob {
  std::string display_name;          // "org/name/model.safetensors" for messages and progress
  Url url;                           // where to GET: the CDN location or the resolve URL
  std::string auth_origin;           // the Authorization header goes only to this scheme://host:port
  std::optional<std::string> token;  // never logged
  std::string etag;                  // normalised; names the blob and, when hex, its hash
  uint64_t size = 0;
  std::string blob_path;  // final <cache>/<repo>/blobs/<etag>
};

struct FetchStats {
  uint64_t resumed_bytes = 0;  // present from an earlier run, not downloaded again
  uint64_t network_bytes = 0;  // body bytes received in this run
  int requests = 0;
  int retries = 0;
  int restarts = 0;     // 200 answers to Range requests
  bool ranges = false;  // fetched as parallel byte ranges
};

FetchStats fetch_blob(const FetchJob& job, const HubConfig& cfg, Progress* progress);

// Disk bytes already held by partial downloads of the blob at `blob_path` (ours or huggingface_hub's
// "<etag>*.incomplete"): space a resumed download does not need to find again.
uint64_t partial_bytes_held(const std::string& blob_path);

}  // namespace ft::hub
