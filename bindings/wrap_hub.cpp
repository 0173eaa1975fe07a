// _ft.hub: thin Lua wrappers over ft::hub::HubClient. Settings come from the environment
// (HubConfig::from_env) with a few per-call overrides the Lua layer has already validated; the token
// is never read from or handed to Lua.
#include <unistd.h>

#include "hub/cache.h"
#include "hub/hub.h"
#include "lua_util.h"

namespace ft::lua {
namespace {

// Environment settings plus the overrides present in the options table at idx.
hub::HubConfig config_from(lua_State* L, int idx) {
  hub::HubConfig c = hub::HubConfig::from_env();
  if (!lua_istable(L, idx)) return c;
  if (has_field(L, idx, "endpoint")) {
    c.endpoint = field_string(L, idx, "endpoint", c.endpoint);
    while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  }
  c.cache_dir = field_string(L, idx, "cache_dir", c.cache_dir);
  if (has_field(L, idx, "offline")) c.offline = field_boolean(L, idx, "offline", c.offline);
  if (has_field(L, idx, "progress")) c.progress = field_boolean(L, idx, "progress", c.progress);
  c.file_workers = static_cast<int>(field_integer(L, idx, "workers", c.file_workers));
  c.range_connections = static_cast<int>(field_integer(L, idx, "connections", c.range_connections));
  c.max_retries = static_cast<int>(field_integer(L, idx, "max_retries", c.max_retries));
  c.verify = field_boolean(L, idx, "verify", c.verify);
  return c;
}

// The revision and repo type in the options table at idx (defaults "main" and "model").
std::pair<std::string, std::string> revision_and_type(lua_State* L, int idx) {
  if (!lua_istable(L, idx)) return {"main", "model"};
  return {field_string(L, idx, "revision", "main"), field_string(L, idx, "repo_type", "model")};
}

void push_totals(lua_State* L, const hub::TransferTotals& t) {
  lua_createtable(L, 0, 8);
  lua_pushnumber(L, static_cast<double>(t.network_bytes));
  lua_setfield(L, -2, "network_bytes");
  lua_pushnumber(L, static_cast<double>(t.resumed_bytes));
  lua_setfield(L, -2, "resumed_bytes");
  lua_pushnumber(L, static_cast<double>(t.files_fetched));
  lua_setfield(L, -2, "files_fetched");
  lua_pushnumber(L, static_cast<double>(t.files_cached));
  lua_setfield(L, -2, "files_cached");
  lua_pushinteger(L, t.requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, t.retries);
  lua_setfield(L, -2, "retries");
  lua_pushinteger(L, t.restarts);
  lua_setfield(L, -2, "restarts");
  lua_pushnumber(L, t.seconds);
  lua_setfield(L, -2, "seconds");
}

// snapshot(repo, opts) -> dir, totals
int w_snapshot(lua_State* L) {
  std::string repo = check_string(L, 1);
  hub::HubClient c(config_from(L, 2));
  hub::SnapshotOptions o;
  if (lua_istable(L, 2)) {
    o.revision = field_string(L, 2, "revision", o.revision);
    o.repo_type = field_string(L, 2, "repo_type", o.repo_type);
    o.include = field_string_list(L, 2, "include");
    o.exclude = field_string_list(L, 2, "exclude");
  }
  std::string dir = c.snapshot(repo, o);
  lua_pushstring(L, dir.c_str());
  push_totals(L, c.totals());
  return 2;
}

// file(repo, filename, opts) -> path, totals
int w_file(lua_State* L) {
  std::string repo = check_string(L, 1);
  std::string filename = check_string(L, 2);
  hub::HubClient c(config_from(L, 3));
  auto [rev, type] = revision_and_type(L, 3);
  std::string p = c.file(repo, filename, rev, type);
  lua_pushstring(L, p.c_str());
  push_totals(L, c.totals());
  return 2;
}

// list_files(repo, opts) -> { {path=, size=, lfs=sha256|nil, oid=}, ... }
int w_list_files(lua_State* L) {
  std::string repo = check_string(L, 1);
  hub::HubClient c(config_from(L, 2));
  auto [rev, type] = revision_and_type(L, 2);
  auto files = c.list_files(repo, rev, type);
  lua_createtable(L, static_cast<int>(files.size()), 0);
  int i = 1;
  for (auto& f : files) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, f.path.c_str());
    lua_setfield(L, -2, "path");
    lua_pushnumber(L, static_cast<double>(f.size));
    lua_setfield(L, -2, "size");
    lua_pushstring(L, f.oid.c_str());
    lua_setfield(L, -2, "oid");
    if (f.lfs) {
      lua_pushstring(L, f.lfs->c_str());
      lua_setfield(L, -2, "lfs");
    }
    lua_rawseti(L, -2, i++);
  }
  return 1;
}

// repo_info(repo, opts) -> { id=, sha=, siblings={...}, private=, gated= }
int w_repo_info(lua_State* L) {
  std::string repo = check_string(L, 1);
  hub::HubClient c(config_from(L, 2));
  auto [rev, type] = revision_and_type(L, 2);
  hub::RepoInfo info = c.repo_info(repo, rev, type);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, info.id.c_str());
  lua_setfield(L, -2, "id");
  lua_pushstring(L, info.sha.c_str());
  lua_setfield(L, -2, "sha");
  lua_pushboolean(L, info.is_private);
  lua_setfield(L, -2, "private");
  lua_pushstring(L, info.gated.c_str());
  lua_setfield(L, -2, "gated");
  lua_createtable(L, static_cast<int>(info.siblings.size()), 0);
  for (size_t i = 0; i < info.siblings.size(); ++i) {
    lua_pushstring(L, info.siblings[i].c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_setfield(L, -2, "siblings");
  return 1;
}

// cache_info(cache_dir?) -> { {repo_id=, repo_type=, path=, size_on_disk=, blobs=, incomplete_bytes=,
// revisions={...}}, ... }
int w_cache_info(lua_State* L) {
  std::string dir = opt_string(L, 1, hub::HubConfig::from_env().cache_dir);
  auto repos = hub::scan_cache(dir);
  lua_createtable(L, static_cast<int>(repos.size()), 0);
  int i = 1;
  for (auto& r : repos) {
    lua_createtable(L, 0, 8);
    lua_pushstring(L, r.repo_id.c_str());
    lua_setfield(L, -2, "repo_id");
    lua_pushstring(L, r.repo_type.c_str());
    lua_setfield(L, -2, "repo_type");
    lua_pushstring(L, r.path.c_str());
    lua_setfield(L, -2, "path");
    lua_pushnumber(L, static_cast<double>(r.size_on_disk));
    lua_setfield(L, -2, "size_on_disk");
    lua_pushnumber(L, static_cast<double>(r.nb_blobs));
    lua_setfield(L, -2, "blobs");
    lua_pushnumber(L, static_cast<double>(r.incomplete_bytes));
    lua_setfield(L, -2, "incomplete_bytes");
    lua_createtable(L, static_cast<int>(r.revisions.size()), 0);
    int k = 1;
    for (auto& rev : r.revisions) {
      lua_createtable(L, 0, 3);
      lua_pushstring(L, rev.commit.c_str());
      lua_setfield(L, -2, "commit");
      lua_createtable(L, static_cast<int>(rev.refs.size()), 0);
      for (size_t j = 0; j < rev.refs.size(); ++j) {
        lua_pushstring(L, rev.refs[j].c_str());
        lua_rawseti(L, -2, static_cast<int>(j + 1));
      }
      lua_setfield(L, -2, "refs");
      lua_createtable(L, static_cast<int>(rev.files.size()), 0);
      for (size_t j = 0; j < rev.files.size(); ++j) {
        lua_pushstring(L, rev.files[j].c_str());
        lua_rawseti(L, -2, static_cast<int>(j + 1));
      }
      lua_setfield(L, -2, "files");
      lua_rawseti(L, -2, k++);
    }
    lua_setfield(L, -2, "revisions");
    lua_rawseti(L, -2, i++);
  }
  return 1;
}

// settings() -> { endpoint=, cache_dir=, home=, offline=, has_token= } (the token itself never)
int w_settings(lua_State* L) {
  hub::HubConfig c = hub::HubConfig::from_env();
  lua_createtable(L, 0, 5);
  lua_pushstring(L, c.endpoint.c_str());
  lua_setfield(L, -2, "endpoint");
  lua_pushstring(L, c.cache_dir.c_str());
  lua_setfield(L, -2, "cache_dir");
  lua_pushstring(L, c.home.c_str());
  lua_setfield(L, -2, "home");
  lua_pushboolean(L, c.offline);
  lua_setfield(L, -2, "offline");
  lua_pushboolean(L, c.token.has_value());
  lua_setfield(L, -2, "has_token");
  return 1;
}

const Reg kHub[] = {{"snapshot", w_snapshot},
                    {"file", w_file},
                    {"list_files", w_list_files},
                    {"repo_info", w_repo_info},
                    {"cache_info", w_cache_info},
                    {"settings", w_settings},
                    {nullptr, nullptr}};

int open_hub(lua_State* L) {
  new_lib(L, "ft.hub", kHub);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.hub", ft::lua::open_hub);
