// Data-parallel runs (`sluice run FILE --nproc N`, and `--nnodes/--node-rank/--master`
// across hosts, here two launchers on loopback), as users run them on real data: ranks
// train exactly as one process with the same global batch, keep identical weights after
// every step, record one run; a dead rank fails the run, Ctrl-C interrupts it, and
// `--resume` continues it on every rank.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data_files.hpp"
#include "process.hpp"
#include "store_cli_test.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class DistributedTest : public StoreCliTest {
 protected:
  // credit-g (1,000 rows: 650 to train), an MLP without dropout (so one process and N
  // ranks draw nothing differently), class-weighted loss.
  void WriteCreditPipeline(const std::string& name, int batch, int epochs, const std::string& extra = "") {
    dir_.Write(name,
               "[pipeline]\nname = \"credit-dp\"\nseed = 3\n\n"
               "[stages.data]\nplugin = \"arff\"\nfile = \"" +
                   WekaExample("credit-g.arff") +
                   "\"\ntarget = \"class\"\nval_fraction = 0.15\ntest_fraction = 0.2\n\n"
                   "[stages.model]\nplugin = \"mlp\"\nhidden = [32, 16]\n\n"
                   "[stages.train]\nplugin = \"trainer\"\ninputs = { data = \"data\", model = \"model\" }\n"
                   "epochs = " +
                   std::to_string(epochs) + "\nbatch_size = " + std::to_string(batch) +
                   "\nlr = 3e-3\nclass_weights = \"balanced\"\nprefetch = 0\n" + extra +
                   "\n[stages.eval]\nplugin = \"classification-metrics\"\n"
                   "inputs = { data = \"data\", model = \"train\" }\n");
  }
  void WriteFashionPipeline(const std::string& name, int epochs) {
    dir_.Write(name,
               "[pipeline]\nname = \"fashion-dp\"\nseed = 7\n\n"
               "[stages.data]\nplugin = \"idx-images\"\ndir = \"" +
                   FashionMnist() +
                   "\"\nval_fraction = 0.1\n\n[stages.model]\nplugin = \"mlp\"\nhidden = [64]\n\n"
                   "[stages.train]\nplugin = \"trainer\"\ninputs = { data = \"data\", model = \"model\" }\n"
                   "epochs = " +
                   std::to_string(epochs) + "\nbatch_size = 128\nlr = 1e-3\n");
  }
  // BERT's masked-language-model pre-training (the mlm plugin) of a tiny encoder on 150
  // Reuters stories (batches of 16: a short last batch of 6), without dropout (which each
  // rank would draw for its own rows).
  void WriteMlmPipeline(const std::string& name, int epochs) {
    dir_.Write(name,
               "[pipeline]\nname = \"mlm-dp\"\nseed = 5\n\n"
               "[stages.corpus]\nplugin = \"text\"\nfile = \"weka/examples/ReutersGrain-train.arff\"\n"
               "text_column = \"Text\"\nlabel_column = \"none\"\nvocab = \"models/all-MiniLM-L6-v2\"\n"
               "max_length = 32\nval_fraction = 0.1\ntest_fraction = 0.0\ntrain_examples = 150\n\n"
               "[stages.model]\nplugin = \"transformer\"\nhead = \"none\"\nhidden_size = 32\n"
               "num_hidden_layers = 1\nnum_attention_heads = 2\nintermediate_size = 64\n"
               "max_position_embeddings = 32\nhidden_dropout_prob = 0.0\nattention_probs_dropout_prob = 0.0\n\n"
               "[stages.pretrain]\nplugin = \"mlm\"\ninputs = { data = \"corpus\", model = \"model\" }\n"
               "epochs = " +
                   std::to_string(epochs) + "\nbatch_size = 16\nlog_every = 1\n");
  }
  std::vector<double> Series(const std::string& run, const std::string& key) {
    std::vector<double> out;
    for (const json& point : SluiceJson({"runs", "metrics", run, key})) out.push_back(point["value"]);
    return out;
  }
  std::vector<std::vector<double>> Predictions(const std::string& run) {
    const json shown = SluiceJson({"runs", "show", run});
    for (const json& a : shown["artifacts"]) {
      if (a["name"] == "predictions") return CsvNumbers(a["path"]);
    }
    ADD_FAILURE() << "run " << run << " has no predictions";
    return {};
  }
  // Everything a user compares between two runs: the loss at every step, the validation
  // curve, the test set's predicted probabilities.
  void ExpectSameTraining(const std::string& a, const std::string& b) {
    for (const char* key : {"train.loss", "train.val_loss", "train.val_roc_auc"}) {
      const std::vector<double> x = Series(a, key), y = Series(b, key);
      ASSERT_EQ(x.size(), y.size()) << key;
      ASSERT_FALSE(x.empty()) << key;
      for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-6) << key << " at point " << i;
    }
    const auto p = Predictions(a), q = Predictions(b);
    ASSERT_EQ(p.size(), q.size());
    for (size_t i = 0; i < p.size(); ++i) {
      for (size_t j = 0; j < p[i].size(); ++j) ASSERT_NEAR(p[i][j], q[i][j], 1e-6) << "row " << i << " column " << j;
    }
  }
  std::unique_ptr<Child> Start(std::vector<std::string> args, ProcessOptions options) {
    args.insert(args.begin(), SluiceBinary());
    return std::make_unique<Child>(args, options);
  }
  // The pid of the launcher's child that is rank `rank`.
  static pid_t RankPid(pid_t launcher, int rank) {
    std::ifstream children("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
    for (pid_t pid; children >> pid;) {
      std::ifstream environ("/proc/" + std::to_string(pid) + "/environ");
      std::stringstream all;
      all << environ.rdbuf();
      if (Contains(all.str(), std::string("SLUICE_DIST_RANK=") + std::to_string(rank) + '\0')) return pid;
    }
    return -1;
  }
  // Once the launcher prints `line`, sends `signal` to rank 1 and waits (two minutes at
  // most) for the launcher to end: nothing when it did not.
  static std::optional<ProcessResult> SignalRank1After(Child& launcher, const std::string& line, int signal) {
    if (!launcher.WaitForLine([&](const std::string& l) { return Contains(l, line); })) {
      ADD_FAILURE() << "the launcher never printed '" << line << "'";
      return std::nullopt;
    }
    const pid_t rank1 = RankPid(launcher.pid(), 1);
    if (rank1 <= 0 || kill(rank1, signal) != 0) {
      ADD_FAILURE() << "rank 1 not found among the launcher's children";
      return std::nullopt;
    }
    return launcher.WaitAtMost(120);
  }
};

TEST_F(DistributedTest, TwoRanksTrainAsOneProcessWithTheSameGlobalBatchAndRecordOneRun) {
  // 650 / 48: thirteen full batches and a short one; early stopping restores the best
  // epoch's weights (epoch 7 of 10 here), which rank 0 writes and every rank reads. SGD
  // with momentum: its step is proportional to the gradient, so a gradient summed wrong
  // shows, where Adam's step is blind to the gradient's scale and turns the last bit of
  // rounding in a near-zero gradient into a whole step (with PyTorch 2.x's BLAS, 1.4e-6
  // apart after 140 AdamW steps). The other tests here train with AdamW.
  WriteCreditPipeline("credit.toml", 48, 12,
                      "optimizer = \"sgd\"\nearly_stopping = \"val_loss\"\npatience = 3\ncheck_replicas = true\n");
  const json single = SluiceJson({"run", "credit.toml", "--set", "train.lr=3e-2"});
  ASSERT_EQ(single["status"], "succeeded") << single.dump();
  EXPECT_EQ(single["metrics"]["train.best_epoch"], 7) << single.dump();
  const json ranks = SluiceJson({"run", "credit.toml", "--nproc", "2", "--set", "train.lr=3e-2"});
  ASSERT_EQ(ranks["status"], "succeeded") << ranks.dump();
  ExpectSameTraining(single["id"], ranks["id"]);

  // One run recorded for the two ranks, the world in its environment, throughput per rank.
  const json runs = SluiceJson({"runs", "list"});
  ASSERT_EQ(runs.size(), 2u) << runs.dump();
  const json shown = SluiceJson({"runs", "show", ranks["id"]});
  EXPECT_EQ(shown["environment"]["world_size"], "2") << shown["environment"].dump();
  EXPECT_EQ(shown["environment"]["dist_backend"], "gloo");
  EXPECT_TRUE(ranks["metrics"].contains("train.samples_per_sec_per_rank")) << ranks["metrics"].dump();
  // The other rank's scratch store is gone.
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path() / "store" / "tmp")) {
    ADD_FAILURE() << "left behind: " << entry.path();
  }
}

TEST_F(DistributedTest, TwoRanksOnGpusTrainAsOneProcessOverNcclOrGlooWhenTheyShareOne) {
  // device = "cuda": local rank k trains on GPU k, over NCCL where each rank has a GPU of
  // its own; on a host with one GPU both ranks share it, and their CUDA gradients travel
  // over Gloo. Needs a CUDA build of LibTorch and a GPU (tools/torch2-check builds
  // against one; bench/gpu.sh runs there).
  WriteCreditPipeline("credit.toml", 48, 4, "optimizer = \"sgd\"\ndevice = \"cuda\"\ncheck_replicas = true\n");
  const ProcessResult probe = Sluice({"run", "credit.toml", "--json", "--set", "train.epochs=1"});
  if (probe.exit_code != 0 && Contains(probe.err, "no usable CUDA device")) {
    GTEST_SKIP() << "no CUDA device here: " << probe.err.substr(0, 200);
  }
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  const json single = SluiceJson({"run", "credit.toml", "--set", "train.lr=3e-2"});
  ASSERT_EQ(single["status"], "succeeded") << single.dump();
  const json ranks = SluiceJson({"run", "credit.toml", "--nproc", "2", "--set", "train.lr=3e-2"});
  ASSERT_EQ(ranks["status"], "succeeded") << ranks.dump();
  ExpectSameTraining(single["id"], ranks["id"]);

  const json environment = SluiceJson({"runs", "show", ranks["id"]})["environment"];
  const std::string cuda = environment.value("cuda", "");
  const bool several = cuda.find("available (") == 0 && cuda.find("(1 device") == std::string::npos;
  EXPECT_EQ(environment["dist_backend"], several ? "nccl" : "gloo") << environment.dump();
  EXPECT_EQ(environment["device"], "cuda:0") << environment.dump();
}

TEST_F(DistributedTest, TwoRanksPreTrainAnEncoderAsOneProcessDoes) {
  // Every rank masks the whole global batch with the one masking generator and takes its
  // share, so the losses match one process's.
  WriteMlmPipeline("mlm.toml", 2);
  const json single = SluiceJson({"run", "mlm.toml"});
  ASSERT_EQ(single["status"], "succeeded") << single.dump();
  const json ranks = SluiceJson({"run", "mlm.toml", "--nproc", "2"});
  ASSERT_EQ(ranks["status"], "succeeded") << ranks.dump();
  for (const char* key :
       {"pretrain.mlm_loss", "pretrain.val_mlm_loss", "pretrain.mlm_accuracy", "pretrain.val_mlm_accuracy"}) {
    const std::vector<double> x = Series(single["id"], key), y = Series(ranks["id"], key);
    ASSERT_EQ(x.size(), y.size()) << key;
    ASSERT_FALSE(x.empty()) << key;
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-5) << key << " at point " << i;
  }
  EXPECT_EQ(Series(ranks["id"], "pretrain.mlm_loss").size(), 20u) << "2 epochs of 10 steps, each logged";
  const json environment = SluiceJson({"runs", "show", ranks["id"]})["environment"];
  EXPECT_EQ(environment["world_size"], "2") << environment.dump();
  EXPECT_EQ(environment["dist_backend"], "gloo") << environment.dump();
}

TEST_F(DistributedTest, PreTrainingStopsOnEveryRankWhenOneIsAskedAndResumesOnEveryRank) {
  WriteMlmPipeline("mlm.toml", 12);
  const json whole = SluiceJson({"run", "mlm.toml", "--nproc", "2"});
  ASSERT_EQ(whole["status"], "succeeded") << whole.dump();

  auto launcher = Start({"run", "mlm.toml", "--nproc", "2", "--json"}, Options());
  const std::optional<ProcessResult> r = SignalRank1After(*launcher, "pretrain: epoch 1/12:", SIGINT);
  ASSERT_TRUE(r.has_value()) << "the ranks did not stop";
  EXPECT_EQ(r->exit_code, 130) << r->err;
  const json interrupted = json::parse(r->out);
  ASSERT_EQ(interrupted["status"], "interrupted") << interrupted.dump() << "\n" << r->err;
  EXPECT_TRUE(Contains(interrupted["error"], "stage 'pretrain': stopped in epoch")) << interrupted.dump();

  // Rank 1 reads rank 0's checkpoint (the masking generator's state included).
  const ProcessResult resumed = Sluice({"run", "--resume", interrupted["id"], "--nproc", "2", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(Contains(resumed.err, "resuming after epoch")) << resumed.err;
  const json after = json::parse(resumed.out);
  ASSERT_EQ(after["status"], "succeeded") << after.dump();
  for (const char* key : {"pretrain.mlm_loss", "pretrain.val_mlm_loss", "pretrain.mlm_accuracy"}) {
    EXPECT_NEAR(after["metrics"][key].get<double>(), whole["metrics"][key].get<double>(), 1e-6) << key;
  }
}

TEST_F(DistributedTest, ARankWithNoExamplesInAShortLastBatchStillTakesItsPart) {
  // 650 / 649: the second batch has one example, which rank 1 gets; rank 0 has none.
  WriteCreditPipeline("credit.toml", 649, 3, "check_replicas = true\n");
  const json single = SluiceJson({"run", "credit.toml"});
  const json ranks = SluiceJson({"run", "credit.toml", "--nproc", "2"});
  ASSERT_EQ(ranks["status"], "succeeded") << ranks.dump();
  ExpectSameTraining(single["id"], ranks["id"]);
}

TEST_F(DistributedTest, ThreeRanksValidateAThirdOfTheRowsEachAndAgreeWithOneProcess) {
  // Each rank validates its share of the 151 validation rows (50, 50, 51, in batches of 16
  // with a short last one) and the ranks sum their outputs: the validation curve, and so
  // early stopping on it, is one process's.
  WriteCreditPipeline("credit.toml", 48, 6,
                      "optimizer = \"sgd\"\nearly_stopping = \"val_roc_auc\"\npatience = 2\neval_batch_size = 16\n");
  const std::vector<std::string> args = {"run", "credit.toml", "--set", "data.val_fraction=0.151"};
  const json single = SluiceJson(args);
  ASSERT_EQ(single["status"], "succeeded") << single.dump();
  EXPECT_EQ(single["metrics"]["data.validation_size"], 151) << single.dump();
  std::vector<std::string> three = args;
  three.insert(three.end(), {"--nproc", "3"});
  const json ranks = SluiceJson(three);
  ASSERT_EQ(ranks["status"], "succeeded") << ranks.dump();
  ExpectSameTraining(single["id"], ranks["id"]);
  for (const char* key : {"train.val_accuracy", "train.val_f1_macro", "train.val_pr_auc", "train.best_epoch"}) {
    EXPECT_NEAR(ranks["metrics"][key].get<double>(), single["metrics"][key].get<double>(), 1e-9) << key;
  }
}

TEST_F(DistributedTest, TwoNodesOverLoopbackRecordOneRunInNodeZerosStore) {
  WriteCreditPipeline("credit.toml", 64, 4, "check_replicas = true\n");
  const json single = SluiceJson({"run", "credit.toml"});
  // A free port for rank 0's rendezvous.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string master = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  close(fd);

  ProcessOptions node1 = Options();
  node1.env["SLUICE_STORE"] = dir_ / "store-node1";
  auto second =
      Start({"run", "credit.toml", "--nnodes", "2", "--node-rank", "1", "--nproc", "1", "--master", master}, node1);
  const json ranks =
      SluiceJson({"run", "credit.toml", "--nnodes", "2", "--node-rank", "0", "--nproc", "1", "--master", master});
  const ProcessResult other = second->Wait();
  EXPECT_EQ(other.exit_code, 0) << other.err;
  ASSERT_EQ(ranks["status"], "succeeded") << ranks.dump();
  ExpectSameTraining(single["id"], ranks["id"]);
  EXPECT_EQ(SluiceJson({"runs", "show", ranks["id"]})["environment"]["world_size"], "2");
  ProcessResult listed = RunProcess({SluiceBinary(), "runs", "list", "--json"}, node1);
  EXPECT_EQ(json::parse(listed.out).size(), 0u) << "node 1 records nothing: " << listed.out;
}

TEST_F(DistributedTest, ADeadRankFailsTheRunAndStopsTheOthers) {
  WriteCreditPipeline("credit.toml", 16, 100000);
  auto launcher = Start({"run", "credit.toml", "--nproc", "2", "--json"}, Options());
  const std::optional<ProcessResult> r = SignalRank1After(*launcher, "data-parallel over 2 ranks", SIGKILL);
  ASSERT_TRUE(r.has_value()) << "the launcher did not stop after rank 1 died";
  EXPECT_EQ(r->exit_code, 1) << r->err;
  EXPECT_TRUE(Contains(r->err, "rank 1 was killed by signal 9")) << r->err;
  const json run = json::parse(r->out);
  EXPECT_EQ(run["status"], "failed") << run.dump();
  EXPECT_TRUE(Contains(run["error"], "stage 'train': data-parallel")) << run["error"];
  EXPECT_TRUE(Contains(run["error"], "a rank stopped or is unreachable")) << run["error"];
}

// Ctrl-C reaches the ranks at slightly different steps; a rank that stopped at once would
// leave the others waiting in an all-reduce with it ("Connection reset by peer": the run
// failed). Here only rank 1 is asked (as when Ctrl-C is pressed at one node's launcher):
// every rank stops after the same step, and the run is interrupted, not failed, though
// rank 0, which records it, was not asked.
TEST_F(DistributedTest, ARankAskedToStopStopsEveryRankAfterTheSameStep) {
  WriteFashionPipeline("fashion.toml", 3);
  auto launcher = Start({"run", "fashion.toml", "--nproc", "2", "--json"}, Options());
  const std::optional<ProcessResult> r = SignalRank1After(*launcher, "epoch 1/3: loss", SIGINT);
  ASSERT_TRUE(r.has_value()) << "the ranks did not stop";
  EXPECT_EQ(r->exit_code, 130) << r->err;
  EXPECT_TRUE(Contains(r->err, " was interrupted; the other ranks stop after the same step")) << r->err;
  const json run = json::parse(r->out);
  EXPECT_EQ(run["status"], "interrupted") << run.dump() << "\n" << r->err;
  EXPECT_TRUE(Contains(run["error"], "stage 'train': stopped in epoch")) << run.dump() << "\n" << r->err;
  EXPECT_FALSE(Contains(r->err, "all-reduce failed")) << r->err;
}

TEST_F(DistributedTest, CtrlCInterruptsEveryRankAndResumeContinuesOnEveryRank) {
  WriteFashionPipeline("fashion.toml", 3);
  const json whole = SluiceJson({"run", "fashion.toml", "--nproc", "2"});
  ASSERT_EQ(whole["status"], "succeeded") << whole.dump();

  auto launcher = Start({"run", "fashion.toml", "--nproc", "2", "--json"}, Options());
  ASSERT_TRUE(launcher->WaitForLine([](const std::string& l) { return Contains(l, "epoch 1/3: loss"); }));
  launcher->Signal(SIGINT);
  const ProcessResult stopped = launcher->Wait();
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
  const json interrupted = json::parse(stopped.out);
  ASSERT_EQ(interrupted["status"], "interrupted") << interrupted.dump();

  const ProcessResult resumed = Sluice({"run", "--resume", interrupted["id"], "--nproc", "2", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(Contains(resumed.err, "resuming after epoch")) << resumed.err;
  const json after = json::parse(resumed.out);
  EXPECT_EQ(after["status"], "succeeded") << after.dump();
  for (const char* key : {"train.val_loss", "train.val_accuracy", "train.loss"}) {
    EXPECT_NEAR(after["metrics"][key].get<double>(), whole["metrics"][key].get<double>(), 1e-6) << key;
  }
}

TEST_F(DistributedTest, BadDistributedOptionsAreUsageErrors) {
  WriteCreditPipeline("credit.toml", 32, 1);
  ProcessResult r = Sluice({"run", "credit.toml", "--nnodes", "2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--nnodes > 1 needs --master ADDR:PORT")) << r.err;
  r = Sluice({"run", "credit.toml", "--nnodes", "2", "--node-rank", "2", "--master", "127.0.0.1:29500"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--node-rank must be from 0 to 1")) << r.err;
  r = Sluice({"run", "credit.toml", "--nproc", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--nproc must be from 1 to 1024")) << r.err;
  r = Sluice({"run", "credit.toml", "--nnodes", "2", "--master", "nowhere"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "is not ADDR:PORT")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "store")) << "nothing is recorded";
}

}  // namespace
}  // namespace sluice::testing
