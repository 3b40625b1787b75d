// server/api_embed.cc: POST /api/embed, POST /api/embeddings (legacy) and POST /v1/embeddings. Vectors
// are last-token pooled (engine/embedding.h), L2-normalised except on the legacy route.
#include <cmath>
#include <cstring>

#include "engine/embedding.h"
#include "server/api.h"
#include "server/server.h"

namespace strata::server {

namespace {

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) | (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                 static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (i + 1 < bytes.size()) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// The float32 values as little-endian bytes, base64-encoded (what the openai SDK decodes by default).
std::string floats_base64(const std::vector<float>& v) {
  std::string bytes(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return base64(bytes);
}

struct EmbedInput {
  std::vector<std::string> texts;
  bool was_empty = false;  // "" or []
};

constexpr size_t kMaxEmbedInputs = 2048;

// A string or an array of strings; anything else is "invalid input type".
Result<EmbedInput> read_inputs(const Json& req, const char* key) {
  EmbedInput in;
  auto it = req.find(key);
  if (it == req.end() || it->is_null()) {
    in.was_empty = true;
    return in;
  }
  if (it->is_string()) {
    in.texts.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    // One request may not queue unbounded work on the model's runner (OpenAI's limit).
    if (it->size() > kMaxEmbedInputs)
      return error("too many inputs ({}); at most {} per request", it->size(), kMaxEmbedInputs);
    for (const auto& v : *it) {
      if (!v.is_string()) return Status::invalid_argument("invalid input type");
      in.texts.push_back(v.get<std::string>());
    }
  } else {
    return Status::invalid_argument("invalid input type");
  }
  in.was_empty = in.texts.empty() || (in.texts.size() == 1 && in.texts[0].empty() && it->is_string());
  return in;
}

// Cuts to `dims` and renormalises (Ollama's `dimensions`).
void apply_dimensions(std::vector<std::vector<float>>& vectors, int64_t dims) {
  if (dims <= 0) return;
  for (auto& v : vectors) {
    if (static_cast<int64_t>(v.size()) <= dims) continue;
    v.resize(static_cast<size_t>(dims));
    engine::l2_normalize(v);
  }
}

// The common path: resolve, options, keep_alive, then an Embed (or, for no input, a Load) job.
struct EmbedRun {
  bool ok = false;
  Status error;
  std::shared_ptr<engine::Job> job;
  std::string request_model;
  std::chrono::steady_clock::time_point t0;
};

EmbedRun embed_error(Status e) {
  EmbedRun r;
  r.error = std::move(e);
  return r;
}

EmbedRun run_embed_job(Api& api, http::HttpExchange& ex, const Json& req, std::vector<std::string> texts,
                              bool normalize, std::string_view not_found_suffix) {
  EmbedRun r;
  r.t0 = std::chrono::steady_clock::now();
  auto model = get_string(req, "model");
  if (!model) return embed_error(Status::invalid_argument(model.status().message()));
  r.request_model = model.value().value_or("");
  if (r.request_model.empty()) return embed_error(Status::invalid_argument("model is required"));
  auto m = api.resolve(r.request_model);
  if (!m) {
    if (m.status().is_not_found())
      return embed_error(Status::not_found(fmt::format("model \"{}\" not found{}", r.request_model, not_found_suffix)));
    return embed_error(m.status());
  }
  RunOptions options = ollama_defaults();
  if (Status s = apply_options(m->entry.parameters, options); !s.is_ok())
    return embed_error(Status::internal(s.message()));
  if (auto it = req.find("options"); it != req.end())
    if (Status s = apply_options(*it, options); !s.is_ok()) return embed_error(Status::invalid_argument(s.message()));
  auto ka = parse_keep_alive(req);
  if (!ka) return embed_error(Status::invalid_argument(ka.status().message()));
  auto truncate = get_bool(req, "truncate");
  if (!truncate) return embed_error(Status::invalid_argument(truncate.status().message()));

  r.job = std::make_shared<engine::Job>();
  r.job->kind = texts.empty() ? engine::Job::Kind::Load : engine::Job::Kind::Embed;
  r.job->model_name = m->entry.name.display();
  r.job->options = options;
  r.job->keep_alive = ka.value();
  r.job->embed_inputs = std::move(texts);
  r.job->embed_truncate = truncate.value().value_or(true);
  r.job->embed_normalize = normalize;
  r.job->received = r.t0;
  Api::Drive d = api.drive(
      ex, m->entry.gguf_path, r.job, [] { return true; }, [](std::string_view) { return true; });
  if (d.ending == Api::Ending::ClientGone) return embed_error(Status::cancelled("client closed the request"));
  if (d.ending == Api::Ending::Error) return embed_error(d.error);
  r.ok = true;
  return r;
}

}  // namespace

void Api::embed(http::HttpExchange& ex) {
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const Json& req = *body;
  auto in = read_inputs(req, "input");
  if (!in) return reply_error(ex, in.status());
  auto dims = get_int(req, "dimensions");
  if (!dims) return reply_error(ex, ErrorKind::InvalidArgument, dims.status().message());
  auto texts = in->was_empty ? std::vector<std::string>{} : in->texts;
  EmbedRun r = run_embed_job(*this, ex, req, std::move(texts), true, ", try pulling it first");
  if (!r.ok) return r.error.is_cancelled() ? void() : reply_error(ex, r.error);
  engine::JobOutcome o = r.job->outcome();
  apply_dimensions(o.embeddings, dims.value().value_or(0));
  Json out{{"model", r.request_model}, {"embeddings", o.embeddings}};
  if (!o.embeddings.empty()) {
    out["total_duration"] = nanos_since(r.t0);
    out["load_duration"] = seconds_to_nanos(o.load_seconds);
    out["prompt_eval_count"] = o.n_input_tokens;
  }
  reply_json(ex, 200, out);
}

void Api::embeddings(http::HttpExchange& ex) {
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const Json& req = *body;
  auto prompt = get_string(req, "prompt");
  if (!prompt) return reply_error(ex, ErrorKind::InvalidArgument, prompt.status().message());
  std::vector<std::string> texts;
  if (prompt.value() && !prompt.value()->empty()) texts.push_back(*prompt.value());
  EmbedRun r = run_embed_job(*this, ex, req, std::move(texts), false, ", try pulling it first");
  if (!r.ok) return r.error.is_cancelled() ? void() : reply_error(ex, r.error);
  const engine::JobOutcome& o = r.job->outcome();
  Json vec = Json::array();
  if (!o.embeddings.empty())
    for (float x : o.embeddings[0]) vec.push_back(static_cast<double>(x));
  reply_json(ex, 200, Json{{"embedding", vec}});
}

void Api::openai_embeddings(http::HttpExchange& ex) {
  auto body = read_json(ex);
  if (!body) return reply_openai_error(ex, body.status());
  const Json& req = *body;
  auto in = read_inputs(req, "input");
  if (!in) return reply_openai_error(ex, in.status());
  auto it = req.find("input");
  if (it != req.end() && it->is_array() && it->empty())
    return reply_openai_error(ex, ErrorKind::InvalidArgument, "invalid input");
  if (it == req.end() || it->is_null()) return reply_openai_error(ex, ErrorKind::InvalidArgument, "invalid input");
  auto format = get_string(req, "encoding_format");
  if (!format) return reply_openai_error(ex, ErrorKind::InvalidArgument, format.status().message());
  std::string fmt_name = format.value().value_or("float");
  std::transform(fmt_name.begin(), fmt_name.end(), fmt_name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (fmt_name != "float" && fmt_name != "base64")
    return reply_openai_error(ex, ErrorKind::InvalidArgument,
                              fmt::format("Invalid value for 'encoding_format' = {}. Supported values: "
                                          "['float', 'base64'].",
                                          format.value().value_or("")));
  auto dims = get_int(req, "dimensions");
  if (!dims) return reply_openai_error(ex, ErrorKind::InvalidArgument, dims.status().message());
  EmbedRun r = run_embed_job(*this, ex, req, in->texts, true, "");
  if (!r.ok) return r.error.is_cancelled() ? void() : reply_openai_error(ex, r.error);
  engine::JobOutcome o = r.job->outcome();
  apply_dimensions(o.embeddings, dims.value().value_or(0));
  Json data = Json::array();
  for (size_t i = 0; i < o.embeddings.size(); ++i) {
    Json e{{"object", "embedding"}, {"index", i}};
    if (fmt_name == "base64") e["embedding"] = floats_base64(o.embeddings[i]);
    else e["embedding"] = o.embeddings[i];
    data.push_back(std::move(e));
  }
  reply_json(ex, 200,
             Json{{"object", "list"},
                  {"data", data},
                  {"model", r.request_model},
                  {"usage", {{"prompt_tokens", o.n_input_tokens}, {"total_tokens", o.n_input_tokens}}}});
}

}  // namespace strata::server
