// Hub settings read from the environment exactly as huggingface_hub's constants.py reads them
// (HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN / token file, HF_HUB_OFFLINE, timeouts), plus
// fthost's transfer knobs. The token is held here and nowhere else; it is never printed.
#pragma once

#include <optional>
#include <string>

namespace ft::hub {

struct HubConfig {
  std::string endpoint = "https://huggingface.co";  // no trailing '/'
  std::string home;                                 // HF_HOME
  std::string cache_dir;                            // HF_HUB_CACHE
  std::string token_path;                           // HF_TOKEN_PATH or $HF_HOME/token
  std::optional<std::string> token;                 // cleaned; never logged
  bool offline = false;                             // HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE
  double etag_timeout_s = 10;                       // HF_HUB_ETAG_TIMEOUT
  double download_timeout_s = 10;                   // HF_HUB_DOWNLOAD_TIMEOUT (per read)
  std::string ca_bundle;  // REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (as requests reads them); "" = system store
  int file_workers = 8;   // files fetched at once by snapshot()
  int range_connections = 8;               // byte ranges fetched at once for one large file
  uint64_t range_min_size = 64ull << 20;   // files at least this big are split into ranges
  uint64_t range_part_size = 32ull << 20;  // size of one range request
  int max_retries = 5;                     // consecutive failures without progress
  double backoff_base_s = 0.5;             // first retry delay; doubles, capped at backoff_max_s
  double backoff_max_s = 8;
  double retry_after_max_s = 60;  // a server's Retry-After is honoured up to this
  bool verify = true;             // sha256 (LFS) / git-sha1 (regular) before moving in place
  bool progress = true;           // progress display on stderr

  // Reads every setting from the environment (see constants.py); never throws on a missing token.
  static HubConfig from_env();
};

// Token cleaning as utils/_auth.py does: CR/LF removed, surrounding whitespace stripped, "" is none.
std::optional<std::string> clean_token(const std::string& raw);
// True for a truthy env flag value ("1", "ON", "YES", "TRUE", case-insensitive).
bool env_flag_true(const std::string& value);

}  // namespace ft::hub
