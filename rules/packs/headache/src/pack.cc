// The plugin face of the headache pack: a thin SDK wrapper over HeadacheEngine. Built into
// cephalgia_headache.so; its data files are found under `<packDirectory>/headache/`.
#include <memory>

#include "cephalgia/plugin/sdk.h"
#include "cephalgia/rules/headache_engine.h"

namespace cephalgia::rules {
namespace {

class HeadachePack final : public plugin::RulePack {
 public:
  explicit HeadachePack(std::unique_ptr<HeadacheEngine> engine) : engine_(std::move(engine)) {}

  static Result<std::unique_ptr<plugin::RulePack>> Create(const plugin::PackCreateArgs& args) {
    CEPHALGIA_ASSIGN_OR_RETURN(std::unique_ptr<HeadacheEngine> engine,
                               HeadacheEngine::Load(HeadacheDataDir(args.pack_directory)));
    return std::unique_ptr<plugin::RulePack>(new HeadachePack(std::move(engine)));
  }

  std::string Describe() const override { return engine_->Describe(); }

  Result<std::string> Evaluate(const plugin::EvaluateCall& call) const override {
    return engine_->Evaluate(call);
  }

 private:
  std::unique_ptr<HeadacheEngine> engine_;
};

}  // namespace
}  // namespace cephalgia::rules

CEPHALGIA_DEFINE_RULE_PACK(cephalgia::rules::HeadachePack, headache, "org.cephalgia.headache", "1.0.0")
