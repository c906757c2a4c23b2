#include "nemesis/grudge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>

namespace faultline::nemesis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Nodes(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) {
    std::string name = "n";  // not "n" + to_string: GCC 12 warns falsely (-Wrestrict) at -O2
    name += std::to_string(i);
    out.push_back(std::move(name));
  }
  return out;
}

// The nodes `from` reaches both ways (itself included) under the grudge.
NodeSet Sees(const Grudge& g, const std::vector<std::string>& nodes, const std::string& from) {
  NodeSet out;
  for (const auto& to : nodes) {
    if (Accepts(g, to, from) && Accepts(g, from, to)) out.insert(to);
  }
  return out;
}

bool Symmetric(const Grudge& g, const std::vector<std::string>& nodes) {
  for (const auto& a : nodes) {
    for (const auto& b : nodes) {
      if (Accepts(g, a, b) != Accepts(g, b, a)) return false;
    }
  }
  return true;
}

// A complete bipartite cut: nodes fall into exactly two groups, connected inside, cut between.
bool CompleteCut(const Grudge& g, const std::vector<std::string>& nodes, size_t* smaller) {
  const NodeSet a = Sees(g, nodes, nodes.front());
  NodeSet b;
  for (const auto& n : nodes) {
    if (a.count(n) == 0) b.insert(n);
  }
  for (const auto& n : nodes) {
    const NodeSet expect = a.count(n) != 0 ? a : b;
    if (Sees(g, nodes, n) != expect) return false;
  }
  *smaller = std::min(a.size(), b.size());
  return !b.empty();
}

TEST(Grudge, CompleteGrudgeDropsEveryoneOutsideTheComponent) {
  const Grudge g = CompleteGrudge({{"a", "b"}, {"c"}});
  EXPECT_EQ(g, (Grudge{{"a", {"c"}}, {"b", {"c"}}, {"c", {"a", "b"}}}));
}

TEST(Grudge, BisectPutsTheSmallerHalfFirst) {
  EXPECT_THAT(Bisect(Nodes(5)), ElementsAre(NodeSet{"n1", "n2"}, NodeSet{"n3", "n4", "n5"}));
  EXPECT_THAT(Bisect(Nodes(4)), ElementsAre(NodeSet{"n1", "n2"}, NodeSet{"n3", "n4"}));
}

TEST(Grudge, IsolateOneCutsOnlyThatNodeBothWays) {
  auto g = IsolateOne(Nodes(5), "n3");
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ((*g)["n3"], (NodeSet{"n1", "n2", "n4", "n5"}));
  for (const auto& n : {"n1", "n2", "n4", "n5"}) EXPECT_EQ((*g)[n], NodeSet{"n3"}) << n;
}

// Who cannot be part of a quorum: the isolated node, the smaller side of halves; nobody under
// majorities-ring or bridge, nor under a one-way cut, nor without a grudge.
TEST(Grudge, CutOffFromMajorityNamesTheNodesWithoutAQuorum) {
  const std::vector<std::string> five = Nodes(5);
  auto isolated = IsolateOne(five, "n3");
  ASSERT_TRUE(isolated);
  EXPECT_THAT(CutOffFromMajority(*isolated, five), ElementsAre("n3"));
  EXPECT_THAT(CutOffFromMajority(CompleteGrudge({{"n1", "n4"}, {"n2", "n3", "n5"}}), five),
              ElementsAre("n1", "n4"));
  // 2 | 2 of four: neither side has a majority.
  EXPECT_THAT(CutOffFromMajority(CompleteGrudge(Bisect(Nodes(4))), Nodes(4)),
              ElementsAre("n1", "n2", "n3", "n4"));
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto ring = MajoritiesRing(five, seed);
    ASSERT_TRUE(ring);
    EXPECT_TRUE(CutOffFromMajority(*ring, five).empty()) << seed;
  }
  auto one_way = OneWay(Nodes(3), "n1", "n2");
  ASSERT_TRUE(one_way);
  EXPECT_TRUE(CutOffFromMajority(*one_way, Nodes(3)).empty());
  EXPECT_TRUE(CutOffFromMajority(Grudge{}, five).empty());
}

TEST(Grudge, IsolateUnknownNodeIsAnError) {
  auto g = IsolateOne(Nodes(3), "n9");
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(g.error().message(), HasSubstr("unknown node n9"));
}

TEST(Grudge, DuplicateNodesAreAnError) {
  auto g = RandomHalves({"n1", "n2", "n1"}, 1);
  ASSERT_FALSE(g);
  EXPECT_THAT(g.error().message(), HasSubstr("n1 listed twice"));
}

class GrudgeSizes : public ::testing::TestWithParam<int> {};

TEST_P(GrudgeSizes, HalvesIsACompleteBipartiteCutOfFloorHalf) {
  const auto nodes = Nodes(GetParam());
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto g = RandomHalves(nodes, seed);
    ASSERT_TRUE(g) << "seed " << seed << ": " << g.error().message();
    size_t smaller = 0;
    ASSERT_TRUE(CompleteCut(*g, nodes, &smaller)) << "seed " << seed << ": " << DescribeGrudge(*g);
    EXPECT_EQ(smaller, nodes.size() / 2) << "seed " << seed;
  }
}

TEST_P(GrudgeSizes, MajorityLeavesAStrictMajority) {
  const auto nodes = Nodes(GetParam());
  if (nodes.size() < 3) {
    EXPECT_FALSE(MajorityMinority(nodes, 1));
    return;
  }
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto g = MajorityMinority(nodes, seed);
    ASSERT_TRUE(g) << "seed " << seed;
    size_t smaller = 0;
    ASSERT_TRUE(CompleteCut(*g, nodes, &smaller)) << "seed " << seed;
    EXPECT_GT(nodes.size() - smaller, nodes.size() / 2) << "seed " << seed;
    EXPECT_GE(smaller, 1u);
  }
}

TEST_P(GrudgeSizes, LeaderMinorityPutsTheLeaderOnTheMinoritySide) {
  const auto nodes = Nodes(GetParam());
  if (nodes.size() < 3) {
    EXPECT_FALSE(LeaderMinority(nodes, "n1", 1));
    return;
  }
  NodeSet companions;  // the others that shared the leader's side over the seeds
  for (uint64_t seed = 0; seed < 40; ++seed) {
    for (const std::string& leader : {nodes.front(), nodes.back()}) {
      auto g = LeaderMinority(nodes, leader, seed);
      ASSERT_TRUE(g) << "seed " << seed;
      size_t smaller = 0;
      ASSERT_TRUE(CompleteCut(*g, nodes, &smaller)) << "seed " << seed;
      const NodeSet side = Sees(*g, nodes, leader);
      EXPECT_EQ(side.size(), smaller) << "seed " << seed << ": the leader is on the larger side";
      EXPECT_EQ(side.size(), std::max<size_t>(1, (nodes.size() - 1) / 2)) << "seed " << seed;
      EXPECT_GT(nodes.size() - side.size(), nodes.size() / 2) << "seed " << seed;
      for (const auto& n : side) {
        if (n != leader && leader == nodes.front()) companions.insert(n);
      }
    }
    EXPECT_EQ(*LeaderMinority(nodes, "n2", seed), *LeaderMinority(nodes, "n2", seed));
  }
  // 5 nodes and more: the leader's companion is drawn at random, so several appear.
  if (nodes.size() >= 5) {
    EXPECT_GE(companions.size(), 2u);
  }
  if (nodes.size() == 3) {
    EXPECT_EQ(*LeaderMinority(nodes, "n2", 7), *IsolateOne(nodes, "n2"));
  }
  EXPECT_FALSE(LeaderMinority(nodes, "x1", 1));  // not a node
}

TEST(Grudge, LeaderMinoritySpecNeedsALeader) {
  auto spec = ParseGrudgeSpec("leader-minority");
  ASSERT_TRUE(spec);
  auto none = MakeGrudge(*spec, Nodes(5), 1);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(*MakeGrudge(*spec, Nodes(5), 1, "n3"), *LeaderMinority(Nodes(5), "n3", 1));
}

TEST_P(GrudgeSizes, MajoritiesRingEveryNodeSeesADistinctMajority) {
  const auto nodes = Nodes(GetParam());
  if (nodes.size() < 4) {
    EXPECT_FALSE(MajoritiesRing(nodes, 1));
    return;
  }
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto g = MajoritiesRing(nodes, seed);
    ASSERT_TRUE(g) << "seed " << seed;
    EXPECT_TRUE(Symmetric(*g, nodes)) << "seed " << seed << ": " << DescribeGrudge(*g);
    std::set<NodeSet> views;
    for (const auto& n : nodes) {
      const NodeSet sees = Sees(*g, nodes, n);
      EXPECT_GT(sees.size(), nodes.size() / 2) << n << " seed " << seed;
      EXPECT_LT(sees.size(), nodes.size()) << n << " seed " << seed;
      EXPECT_EQ(sees.count(n), 1u);
      views.insert(sees);
    }
    EXPECT_EQ(views.size(), nodes.size()) << "seed " << seed << ": two nodes see the same majority";
  }
}

TEST_P(GrudgeSizes, BridgeNodeSeesEveryoneAndTheHalvesAreCut) {
  const auto nodes = Nodes(GetParam());
  if (nodes.size() < 3) {
    EXPECT_FALSE(Bridge(nodes, 1));
    return;
  }
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto g = Bridge(nodes, seed);
    ASSERT_TRUE(g) << "seed " << seed;
    EXPECT_TRUE(Symmetric(*g, nodes));
    std::vector<std::string> bridges;
    for (const auto& n : nodes) {
      if (Sees(*g, nodes, n).size() == nodes.size()) bridges.push_back(n);
    }
    ASSERT_EQ(bridges.size(), 1u) << "seed " << seed << ": " << DescribeGrudge(*g);
    std::vector<std::string> rest;
    for (const auto& n : nodes) {
      if (n != bridges[0]) rest.push_back(n);
    }
    Grudge without = *g;
    without.erase(bridges[0]);
    size_t smaller = 0;
    ASSERT_TRUE(CompleteCut(without, rest, &smaller)) << "seed " << seed;
    EXPECT_EQ(smaller, nodes.size() / 2 - (nodes.size() % 2 == 0 ? 1 : 0))
        << "seed " << seed << ": " << DescribeGrudge(*g);
  }
}

TEST_P(GrudgeSizes, MinorityThirdCutsAThird) {
  const auto nodes = Nodes(GetParam());
  auto g = MinorityThird(nodes, 7);
  ASSERT_TRUE(g);
  size_t smaller = 0;
  ASSERT_TRUE(CompleteCut(*g, nodes, &smaller));
  EXPECT_EQ(smaller, std::max<size_t>(1, nodes.size() / 3));
}

TEST_P(GrudgeSizes, InvertTwiceIsIdentity) {
  const auto nodes = Nodes(GetParam());
  for (const auto& spec : {"halves", "majorities-ring", "bridge", "oneway:n1>n2"}) {
    auto parsed = ParseGrudgeSpec(spec);
    ASSERT_TRUE(parsed);
    auto g = MakeGrudge(*parsed, nodes, 3);
    if (!g) continue;  // too few nodes for this kind
    EXPECT_EQ(Invert(Invert(*g)), Normalize(*g)) << spec;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, GrudgeSizes, ::testing::Values(2, 3, 4, 5, 6, 7, 9),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "Nodes" + std::to_string(p.param);
                         });

TEST(Grudge, MajoritiesRingOfFiveConnectsEachNodeToItsTwoNeighbours) {
  const auto nodes = Nodes(5);
  auto g = MajoritiesRing(nodes, 42);
  ASSERT_TRUE(g);
  // Recover the ring: each node sees exactly two others, and following them visits all five.
  for (const auto& n : nodes) {
    NodeSet sees = Sees(*g, nodes, n);
    sees.erase(n);
    ASSERT_EQ(sees.size(), 2u) << n;
  }
  std::string prev;
  std::string cur = "n1";
  NodeSet visited;
  for (int i = 0; i < 5; ++i) {
    visited.insert(cur);
    NodeSet sees = Sees(*g, nodes, cur);
    sees.erase(cur);
    sees.erase(prev);
    prev = cur;
    cur = *sees.begin();
  }
  EXPECT_EQ(visited.size(), 5u);
  EXPECT_EQ(cur, "n1");
}

TEST(Grudge, OneWayDropsOneDirectionOnly) {
  auto g = OneWay(Nodes(3), "n1", "n2");
  ASSERT_TRUE(g);
  EXPECT_FALSE(Accepts(*g, "n2", "n1"));
  EXPECT_TRUE(Accepts(*g, "n1", "n2"));
  EXPECT_EQ(*g, (Grudge{{"n1", {}}, {"n2", {"n1"}}, {"n3", {}}}));
  EXPECT_EQ(Invert(*g), (Grudge{{"n1", {"n2"}}, {"n2", {}}, {"n3", {}}}));
}

TEST(Grudge, RandomKindsAreDeterministicForASeed) {
  const auto nodes = Nodes(7);
  for (const auto& spec : {"halves", "majority", "majorities-ring", "bridge", "minority-third"}) {
    auto parsed = ParseGrudgeSpec(spec);
    ASSERT_TRUE(parsed);
    auto a = MakeGrudge(*parsed, nodes, 12345);
    auto b = MakeGrudge(*parsed, nodes, 12345);
    ASSERT_TRUE(a && b) << spec;
    EXPECT_EQ(*a, *b) << spec;
    std::set<Grudge> seen;
    for (uint64_t seed = 0; seed < 30; ++seed) seen.insert(*MakeGrudge(*parsed, nodes, seed));
    EXPECT_GT(seen.size(), 1u) << spec << ": the seed changes nothing";
  }
}

TEST(Grudge, SeededShuffleIsStable) {
  // Pinned: a change here changes every replayed campaign.
  EXPECT_THAT(SeededShuffle(Nodes(5), 1), ElementsAre("n3", "n2", "n5", "n4", "n1"));
}

TEST(Grudge, DescribeListsOnlyNodesThatDrop) {
  EXPECT_EQ(DescribeGrudge({{"n1", {}}, {"n2", {"n1", "n3"}}}), "n2 drops {n1 n3}");
  EXPECT_EQ(DescribeGrudge({}), "no grudge");
}

struct SpecCase {
  std::string text;
  bool ok;
  std::string expect;  // canonical form if ok, else a substring of the error
};

void PrintTo(const SpecCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class GrudgeSpecParse : public ::testing::TestWithParam<SpecCase> {};

TEST_P(GrudgeSpecParse, ParsesOrExplains) {
  const SpecCase& c = GetParam();
  auto spec = ParseGrudgeSpec(c.text);
  if (c.ok) {
    ASSERT_TRUE(spec) << spec.error().message();
    EXPECT_EQ(GrudgeSpecString(*spec), c.expect);
    EXPECT_EQ(*ParseGrudgeSpec(GrudgeSpecString(*spec)), *spec);
  } else {
    ASSERT_FALSE(spec) << GrudgeSpecString(*spec);
    EXPECT_EQ(spec.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(spec.error().message(), HasSubstr(c.expect));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Specs, GrudgeSpecParse,
    ::testing::Values(SpecCase{"isolate:n1", true, "isolate:n1"},
                      SpecCase{"halves", true, "halves"}, SpecCase{"majority", true, "majority"},
                      SpecCase{"majorities-ring", true, "majorities-ring"},
                      SpecCase{"bridge", true, "bridge"},
                      SpecCase{"minority-third", true, "minority-third"},
                      SpecCase{"leader-minority", true, "leader-minority"},
                      SpecCase{"oneway:n1>n2", true, "oneway:n1>n2"}, SpecCase{"", false, "empty"},
                      SpecCase{"isolate", false, "unknown kind"},
                      SpecCase{"isolate:", false, "expected isolate:NODE"},
                      SpecCase{"oneway:n1", false, "expected oneway:FROM>TO"},
                      SpecCase{"oneway:n1>", false, "expected oneway:FROM>TO"},
                      SpecCase{"oneway:>n2", false, "expected oneway:FROM>TO"},
                      SpecCase{"oneway:n1>n1", false, "same node"},
                      SpecCase{"oneway:n1>n2>n3", false, "expected oneway:FROM>TO"},
                      SpecCase{"Halves", false, "unknown kind"},
                      SpecCase{"ring", false, "expected isolate:NODE, halves"}),
    [](const ::testing::TestParamInfo<SpecCase>& p) { return "Case" + std::to_string(p.index); });

TEST(Grudge, MakeGrudgeChecksNodeNames) {
  auto spec = ParseGrudgeSpec("oneway:n1>n7");
  ASSERT_TRUE(spec);
  auto g = MakeGrudge(*spec, Nodes(5), 1);
  ASSERT_FALSE(g);
  EXPECT_THAT(g.error().message(), HasSubstr("unknown node n7"));
}

TEST(Grudge, NormalizeAddsNodesAndDropsSelfReferences) {
  EXPECT_EQ(Normalize({{"a", {"a", "b"}}}), (Grudge{{"a", {"b"}}, {"b", {}}}));
  EXPECT_THAT(Normalize({}), IsEmpty());
  EXPECT_THAT(Invert({{"a", {"b", "c"}}}),
              UnorderedElementsAre(std::pair<const std::string, NodeSet>{"a", {}},
                                   std::pair<const std::string, NodeSet>{"b", {"a"}},
                                   std::pair<const std::string, NodeSet>{"c", {"a"}}));
}

}  // namespace
}  // namespace faultline::nemesis
