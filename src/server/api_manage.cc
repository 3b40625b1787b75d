// server/api_manage.cc: the routes that change the model list: /api/pull (local models only), /api/push
// (refused), /api/copy, /api/delete, /api/create and /api/blobs/:digest.
#include <filesystem>

#include "server/api.h"
#include "server/server.h"
#include "chat/chat_template.h"

namespace strata::server {

namespace {

// "sha256:<hex>" / "sha256-<hex>" → lower-case hex, or nullopt.
std::optional<std::string> parse_digest(std::string_view d) {
  if (d.size() != 71 || d.substr(0, 6) != "sha256" || (d[6] != ':' && d[6] != '-')) return std::nullopt;
  std::string hex(d.substr(7));
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return hex;
}

// Progress replies of pull/create: NDJSON ending in {"status":"success"}, or just that object.
void reply_progress(http::HttpExchange& ex, bool stream, const std::vector<Json>& steps) {
  if (!stream) return reply_json(ex, 200, Json{{"status", "success"}});
  if (!ex.begin_stream(200, "application/x-ndjson")) return;
  for (const auto& s : steps) ex.write(dump_json(s) + "\n");
  ex.write(dump_json(Json{{"status", "success"}}) + "\n");
}

std::string model_or_name(const Json& req) {
  for (const char* key : {"model", "name"}) {
    auto it = req.find(key);
    if (it != req.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) return it->get<std::string>();
  }
  return "";
}

}  // namespace

void Api::pull(http::HttpExchange& ex) {
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const Json& req = *body;
  auto stream = get_bool(req, "stream");
  if (!stream) return reply_error(ex, ErrorKind::InvalidArgument, stream.status().message());
  const std::string name = model_or_name(req);
  if (name.empty()) return reply_error(ex, ErrorKind::InvalidArgument, "model is required");
  auto m = resolve(name);
  if (m.status().is_invalid_argument()) return reply_error(ex, m.status());
  if (!m)
    return reply_error(ex, ErrorKind::NotFound,
                       fmt::format("pull model manifest: model '{}' is not available locally (strata serves "
                                   "local models and does not download)",
                                   name));
  // As Ollama: one "pulling <12 hex>" object per layer with digest, total and completed (here all present).
  const ModelEntry& e = m->entry;
  reply_progress(ex, stream.value().value_or(true),
                 {Json{{"status", "pulling manifest"}},
                  Json{{"status", "pulling " + e.digest.substr(0, 12)}, {"digest", "sha256:" + e.digest},
                       {"total", e.size_bytes}, {"completed", e.size_bytes}},
                  Json{{"status", "verifying sha256 digest"}}, Json{{"status", "writing manifest"}}});
}

void Api::push(http::HttpExchange& ex) {
  int status = 400;
  (void)ex.read_body(options_.max_body_bytes, status);
  reply_error(ex, ErrorKind::InvalidArgument, "push is not supported");
}

void Api::copy(http::HttpExchange& ex) {
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const Json& req = *body;
  auto source = get_string(req, "source");
  auto destination = get_string(req, "destination");
  if (!source) return reply_error(ex, ErrorKind::InvalidArgument, source.status().message());
  if (!destination) return reply_error(ex, ErrorKind::InvalidArgument, destination.status().message());
  const std::string src = source.value().value_or(""), dst = destination.value().value_or("");
  auto src_name = parse_model_name(src);
  if (src.empty() || !src_name)
    return reply_error(ex, ErrorKind::InvalidArgument, fmt::format("source \"{}\" is invalid", src));
  auto dst_name = parse_model_name(dst);
  if (dst.empty() || !dst_name)
    return reply_error(ex, ErrorKind::InvalidArgument, fmt::format("destination \"{}\" is invalid", dst));
  auto entry = store_.find(src_name.value());
  if (!entry) return reply_error(ex, ErrorKind::NotFound, fmt::format("model \"{}\" not found", src));
  if (Status s = store_.copy(*entry, dst_name.value()); !s.is_ok()) return reply_error(ex, s);
  ex.respond(200, "", "");
}

void Api::remove(http::HttpExchange& ex) {
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const std::string name = model_or_name(*body);
  if (name.empty()) return reply_error(ex, ErrorKind::InvalidArgument, "model is required");
  auto parsed = parse_model_name(name);
  if (!parsed) return reply_error(ex, ErrorKind::InvalidArgument, fmt::format("name \"{}\" is invalid", name));
  auto entry = store_.find(parsed.value());
  if (!entry) return reply_error(ex, ErrorKind::NotFound, fmt::format("model '{}' not found", name));
  if (Status s = store_.remove(*entry); !s.is_ok()) return reply_error(ex, s);
  // Unload the weights when no remaining name refers to them.
  bool still_named = false;
  for (const auto& e : store_.list()) still_named = still_named || e.gguf_path == entry->gguf_path;
  if (!still_named) scheduler_.unload(entry->gguf_path);
  ex.respond(200, "", "");
}

void Api::create(http::HttpExchange& ex) {
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const Json& req = *body;
  auto stream = get_bool(req, "stream");
  auto from = get_string(req, "from");
  auto system = get_string(req, "system");
  auto tmpl = get_string(req, "template");
  auto quantize = get_string(req, "quantize");
  for (const Status* s : {&stream.status(), &from.status(), &system.status(), &tmpl.status(), &quantize.status()})
    if (!s->is_ok()) return reply_error(ex, ErrorKind::InvalidArgument, s->message());
  const std::string name = model_or_name(req);
  if (name.empty()) return reply_error(ex, ErrorKind::InvalidArgument, "model is required");
  auto parsed = parse_model_name(name);
  if (!parsed) return reply_error(ex, ErrorKind::InvalidArgument, "invalid model name");
  if (quantize.value() && !quantize.value()->empty())
    return reply_error(ex, ErrorKind::InvalidArgument, "quantization is not supported by strata");
  for (const char* key : {"adapters", "messages"}) {
    auto it = req.find(key);
    if (it != req.end() && !it->is_null() && !it->empty())
      return reply_error(ex, ErrorKind::InvalidArgument,
                         fmt::format("\"{}\" in /api/create is not supported by strata", key));
  }

  CreateSpec spec;
  spec.name = parsed.value();
  std::vector<Json> steps;
  if (from.value() && !from.value()->empty()) {
    auto base = resolve(*from.value());
    if (!base) return reply_error(ex, base.status());
    spec.base = base->entry;
    steps.push_back({{"status", "reading model metadata"}});
  }
  if (auto it = req.find("files"); it != req.end() && !it->is_null()) {
    if (!it->is_object())
      return reply_error(ex, ErrorKind::InvalidArgument, "invalid type for field \"files\": expected object");
    for (const auto& [file, digest] : it->items()) {
      if (file.empty() || file.front() == '/' || file.find("..") != std::string::npos)
        return reply_error(ex, ErrorKind::InvalidArgument, "file path must be relative");
      if (!digest.is_string()) return reply_error(ex, ErrorKind::InvalidArgument, "invalid digest format");
      auto hex = parse_digest(digest.get<std::string>());
      if (!hex) return reply_error(ex, ErrorKind::InvalidArgument, "invalid digest format");
      if (spec.gguf_blob) return reply_error(ex, ErrorKind::InvalidArgument, "only one GGUF file is supported");
      if (!store_.has_blob(*hex))
        return reply_error(ex, ErrorKind::InvalidArgument, fmt::format("blob \"sha256:{}\" not found", *hex));
      spec.gguf_blob = *hex;
      steps.push_back({{"status", "parsing GGUF"}});
      std::error_code ec;
      const uint64_t size = std::filesystem::file_size(store_.blob_path(*hex), ec);
      steps.push_back({{"status", fmt::format("using existing layer sha256:{}", *hex)}, {"digest", "sha256:" + *hex},
                       {"total", ec ? 0 : size}, {"completed", ec ? 0 : size}});
    }
  }
  if (!spec.base && !spec.gguf_blob)
    return reply_error(ex, ErrorKind::InvalidArgument, "neither 'from' or 'files' was specified");
  if (tmpl.value() && !tmpl.value()->empty()) {
    // strata renders Jinja chat templates; a Go template (Ollama's TEMPLATE) would not work.
    auto parsed_tmpl = chat::ChatTemplate::create(*tmpl.value());
    if (!parsed_tmpl)
      return reply_error(ex, ErrorKind::InvalidArgument,
                         fmt::format("template must be a Jinja chat template: {}", parsed_tmpl.status().message()));
    spec.chat_template = tmpl.value();
    steps.push_back({{"status", "creating template layer"}});
  }
  if (system.value()) {
    spec.system = system.value();
    steps.push_back({{"status", "creating system layer"}});
  }
  if (auto it = req.find("parameters"); it != req.end() && !it->is_null()) {
    if (!it->is_object())
      return reply_error(ex, ErrorKind::InvalidArgument, "invalid type for field \"parameters\": expected object");
    RunOptions check;
    if (Status s = apply_options(*it, check); !s.is_ok())
      return reply_error(ex, ErrorKind::InvalidArgument, s.message());
    spec.parameters = *it;
    steps.push_back({{"status", "creating parameters layer"}});
  }
  if (auto it = req.find("license"); it != req.end() && !it->is_null()) {
    std::string license;
    if (it->is_string()) {
      license = it->get<std::string>();
    } else if (it->is_array()) {
      for (const auto& l : *it) {
        if (!license.empty()) license.push_back('\n');
        license.append(l.is_string() ? l.get<std::string>() : dump_json(l));
      }
    } else {
      return reply_error(ex, ErrorKind::InvalidArgument,
                         "invalid type for field \"license\": expected string or array");
    }
    spec.license = license;
  }
  report(options_.progress, items_progress("create", parsed.value().display(), 0, 1));
  auto created = store_.create(spec);
  report(options_.progress, items_progress("create", parsed.value().display(), 1, 1, /*finished=*/true));
  if (!created) return reply_error(ex, created.status());
  steps.push_back({{"status", "writing manifest"}});
  reply_progress(ex, stream.value().value_or(true), steps);
}

void Api::blob(http::HttpExchange& ex) {
  const std::string digest = ex.path().substr(std::string_view("/api/blobs/").size());
  auto hex = parse_digest(digest);
  if (!hex) return reply_error(ex, ErrorKind::InvalidArgument, "invalid digest format");
  if (ex.method() == "HEAD" || ex.method() == "GET") {
    if (store_.has_blob(*hex)) return ex.respond(200, "", "");
    return reply_error(ex, ErrorKind::NotFound, fmt::format("blob \"sha256:{}\" not found", *hex));
  }
  if (store_.has_blob(*hex)) return ex.respond(200, "", "");
  auto writer = ModelStore::BlobWriter::open(store_, *hex);
  if (!writer) return reply_error(ex, writer.status());
  int status = 400;
  const std::string label = "sha256:" + hex->substr(0, 12);
  const std::string* length = ex.head().header("content-length");
  const uint64_t total = length ? std::strtoull(length->c_str(), nullptr, 10) : 0;
  uint64_t received = 0;
  report(options_.progress, bytes_progress("upload", label, 0, total));
  Status s = ex.read_body_to([&](std::string_view piece) {
    received += piece.size();
    report(options_.progress, bytes_progress("upload", label, received, total));
    return writer.value()->write(piece);
  }, status);
  report(options_.progress, bytes_progress("upload", label, received, total, /*finished=*/true));
  // status 0: the writer's own failure, with its kind; else the transport's refusal of the body.
  if (!s.is_ok()) return status == 0 ? reply_error(ex, s) : reply_error(ex, ErrorKind::InvalidArgument, s.message());
  if (Status c = writer.value()->commit(); !c.is_ok()) return reply_error(ex, c);  // a digest mismatch is corruption
  ex.respond(201, "", "");
}

}  // namespace strata::server
