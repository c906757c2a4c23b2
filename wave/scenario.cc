#include "wave/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/file.h"
#include "runner/config.h"

namespace faultline::wave {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

Error Bad(std::string_view source, std::string_view field, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument, fmt::format("{}: {}: {}", source, field, why));
}

std::string TypeName(const Json& j) { return j.type_name(); }

// A part given as a file name (relative to base_dir) or as the object itself: its JSON text and
// the name its errors carry.
struct PartText {
  Json json;
  std::string source;
};

Result<PartText> ReadPart(const Json& j, std::string_view source, std::string_view field,
                          const std::string& base_dir) {
  if (j.is_object()) {
    return PartText{.json = j, .source = fmt::format("{}: {}", source, field)};
  }
  if (!j.is_string()) {
    return Bad(source, field,
               fmt::format("expected a file name or an object, got {}", TypeName(j)));
  }
  const fs::path path = fs::path(base_dir) / j.get<std::string>();
  Result<std::string> text = ReadFile(path.string());
  if (!text) return Bad(source, field, text.error().message());
  try {
    return PartText{.json = Json::parse(*text), .source = path.string()};
  } catch (const Json::exception& e) {
    return Bad(source, field, fmt::format("{}: not JSON: {}", path.string(), e.what()));
  }
}

Result<std::chrono::milliseconds> Millis(const Json& j, std::string_view source,
                                         std::string_view field) {
  if (!j.is_number_integer() || j.get<std::int64_t>() < 0 || j.get<std::int64_t>() > 600000) {
    return Bad(source, field, fmt::format("expected an integer in 0..600000, got {}", j.dump()));
  }
  return std::chrono::milliseconds(j.get<std::int64_t>());
}

}  // namespace

Result<Scenario> ParseScenario(const Json& json, std::string_view source,
                               const std::string& base_dir) {
  if (!json.is_object()) {
    return Bad(source, "(top level)", fmt::format("expected an object, got {}", TypeName(json)));
  }
  static const std::set<std::string> kKeys = {"id",       "title", "description", "drill",
                                              "campaign", "fit",   "start_ms"};
  for (const auto& [key, value] : json.items()) {
    if (!kKeys.contains(key)) {
      return Bad(source, key,
                 "unknown key (expected id, title, description, drill, campaign, fit, start_ms)");
    }
  }
  Scenario s;
  s.source = std::string(source);
  for (const char* key : {"id", "title"}) {
    if (!json.contains(key) || !json[key].is_string() || json[key].get<std::string>().empty()) {
      return Bad(source, key, "expected a non-empty string");
    }
  }
  s.id = json["id"].get<std::string>();
  s.title = json["title"].get<std::string>();
  if (json.contains("description")) {
    if (!json["description"].is_string()) return Bad(source, "description", "expected a string");
    s.description = json["description"].get<std::string>();
  }
  for (const char* key : {"drill", "campaign", "fit"}) {
    if (!json.contains(key)) {
      return Bad(source, key, "missing (a wave runs a drill, a campaign and a FIT experiment)");
    }
  }

  FAULTLINE_ASSIGN_OR_RETURN(PartText drill, ReadPart(json["drill"], source, "drill", base_dir));
  FAULTLINE_ASSIGN_OR_RETURN(s.drill, dirt::ParseScenario(drill.json.dump(), drill.source));
  if (s.drill.workload.enabled) {
    return Bad(source, "drill",
               fmt::format("{} runs a workload of its own; in a wave the campaign is the workload "
                           "(both would record client ops into the one log)",
                           s.drill.id));
  }

  const Json& campaign = json["campaign"];
  if (!campaign.is_object()) {
    return Bad(
        source, "campaign",
        fmt::format("expected an object of campaign config keys, got {}", TypeName(campaign)));
  }
  for (std::string_view key : kWaveCampaignKeys) {
    if (campaign.contains(std::string(key))) {
      return Bad(source, fmt::format("campaign.{}", key),
                 "set by the wave (the drill's scenario pins the cluster), not by the scenario");
    }
  }
  Json with_cluster = campaign;
  with_cluster["db"] = "etcd";
  with_cluster["nodes"] = s.drill.nodes;
  Result<runner::CampaignConfig> config = runner::ConfigFromJson(with_cluster.dump());
  if (!config) return Bad(source, "campaign", config.error().message());
  s.campaign = std::move(*config);
  if (Status valid = runner::ValidateConfig(s.campaign); !valid) {
    return Bad(source, "campaign", valid.error().message());
  }
  if (s.campaign.workload != runner::Workload::kRegister) {
    return Bad(source, "campaign.workload",
               fmt::format("{}: a wave runs the register workload (linearizability per key)",
                           runner::WorkloadName(s.campaign.workload)));
  }

  FAULTLINE_ASSIGN_OR_RETURN(PartText fit, ReadPart(json["fit"], source, "fit", base_dir));
  FAULTLINE_ASSIGN_OR_RETURN(s.fit, fit::ParseScenario(fit.json, fit.source));

  if (json.contains("start_ms")) {
    const Json& start = json["start_ms"];
    if (!start.is_object()) return Bad(source, "start_ms", "expected an object");
    for (const auto& [key, value] : start.items()) {
      const std::string field = "start_ms." + key;
      FAULTLINE_ASSIGN_OR_RETURN(std::chrono::milliseconds ms, Millis(value, source, field));
      if (key == "drill") {
        s.start.drill = ms;
      } else if (key == "campaign") {
        s.start.campaign = ms;
      } else if (key == "fit") {
        s.start.fit = ms;
      } else {
        return Bad(source, field, "unknown part (expected drill, campaign, fit)");
      }
    }
  }
  return s;
}

Result<Scenario> LoadScenario(const std::string& path) {
  FAULTLINE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{}: not JSON: {}", path, e.what()));
  }
  return ParseScenario(json, path, fs::path(path).parent_path().string());
}

}  // namespace faultline::wave
