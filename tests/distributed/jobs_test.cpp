// The pieces a distributed run is made of that run without MPI: products
// with the same bits on any thread count, quantized linears as messages,
// owners of linears, ordered jobs on a cluster of one.
#include <omp.h>

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "distributed/ordered_jobs.h"
#include "export/hf/linear_jobs.h"
#include "runtime/deterministic_gemm.h"

using namespace llmq;

TEST(DeterministicGemm, SameBitsOnAnyThreadCountAndRightValues) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  const int saved = omp_get_max_threads();
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 300, 70}, {37, 513, 129}, {600, 257, 64}}) {
        std::vector<float> A(size_t(M * K)), B(size_t(K * N));
        for (float& v : A) v = d(rng);
        for (float& v : B) v = d(rng);
        const int64_t lda = ta ? M : K, ldb = tb ? K : N;
        std::vector<std::vector<float>> C;
        for (int threads : {1, 2, 3}) {
          omp_set_num_threads(threads);
          C.emplace_back(size_t(M * N), 0.5f);
          runtime::gemm(ta, tb, M, N, K, 2.0f, A.data(), lda, B.data(), ldb, 1.0f, C.back().data(), N);
        }
        EXPECT_EQ(std::memcmp(C[0].data(), C[1].data(), C[0].size() * 4), 0) << M << "x" << N << "x" << K;
        EXPECT_EQ(std::memcmp(C[0].data(), C[2].data(), C[0].size() * 4), 0) << M << "x" << N << "x" << K;
        for (int64_t i = 0; i < M; i += 17)
          for (int64_t j = 0; j < N; j += 13) {
            double ref = 0.5;
            for (int64_t k = 0; k < K; ++k)
              ref += 2.0 * double(ta ? A[size_t(k * M + i)] : A[size_t(i * K + k)]) *
                     double(tb ? B[size_t(j * K + k)] : B[size_t(k * N + j)]);
            ASSERT_NEAR(C[0][size_t(i * N + j)], ref, 1e-3 * (1.0 + std::fabs(ref)));
          }
      }
  omp_set_num_threads(saved);
}

TEST(LinearJobs, OutcomeTravelsIntactAndBadMessagesAreErrors) {
  LinearOutcome o;
  IntQuantSpec spec;
  spec.bits = 4;
  spec.group_size = 4;
  o.q.init(3, 8, spec);
  for (size_t i = 0; i < o.q.q.size(); ++i) o.q.q[i] = uint8_t(i % 16);
  for (size_t i = 0; i < o.q.scales.size(); ++i) o.q.scales[i] = 0.1f * float(i + 1);
  o.q.g_idx[5] = 0;
  o.report = {{"method", "gptq"}, {"loss", 0.25}};
  o.rtn_fallbacks = {"a: too few tokens"};
  o.warnings = {"b: damped", "c: dead columns"};
  const std::vector<uint8_t> bytes = linear_outcome_bytes(o);
  const LinearOutcome back = linear_outcome_from_bytes(bytes, "w");
  EXPECT_EQ(back.q.rows, 3);
  EXPECT_EQ(back.q.q, o.q.q);
  EXPECT_EQ(back.q.scales, o.q.scales);
  EXPECT_EQ(back.q.zeros, o.q.zeros);
  EXPECT_EQ(back.q.g_idx, o.q.g_idx);
  EXPECT_EQ(back.q.spec.bits, 4);
  EXPECT_EQ(back.report, o.report);
  EXPECT_EQ(back.rtn_fallbacks, o.rtn_fallbacks);
  EXPECT_EQ(back.warnings, o.warnings);
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + bytes.size() / 2);
  EXPECT_THROW(linear_outcome_from_bytes(cut, "w"), Error);
  LinearOutcome wrong = o;
  wrong.q.rows = 4;  // codes of a 3-row weight claimed for 4 rows
  EXPECT_THROW(linear_outcome_from_bytes(linear_outcome_bytes(wrong), "w"), Error);
}

TEST(LinearJobs, OwnersBalanceTheCost) {
  std::vector<Tensor> w;
  for (auto [r, c] : {std::pair<int64_t, int64_t>{64, 64}, {256, 64}, {64, 256}, {64, 64}, {128, 128}}) {
    w.emplace_back();
    w.back().shape = {r, c};
  }
  std::vector<LayerLinear> linears;
  for (size_t i = 0; i < w.size(); ++i) linears.push_back({"l" + std::to_string(i), &w[i], {}, TensorRole::AttnQ});
  EXPECT_EQ(assign_linear_owners(linears, 1), std::vector<int>(5, 0));
  const std::vector<int> two = assign_linear_owners(linears, 2);
  EXPECT_EQ(two, assign_linear_owners(linears, 2));  // deterministic: every rank computes the same owners
  EXPECT_EQ(two[2], 0);                              // the widest input, most expensive, first to rank 0
  EXPECT_NE(two[2], two[4]);                         // the next most expensive to the other rank
}

TEST(OrderedJobs, ClusterOfOneConsumesEveryJobInOrder) {
  Cluster one;
  std::vector<int64_t> order;
  run_ordered_jobs(one, 5, [](int64_t j) { return std::vector<uint8_t>(size_t(j), uint8_t(j)); },
                   [&](int64_t j, std::vector<uint8_t>& bytes) {
                     EXPECT_EQ(bytes.size(), size_t(j));
                     order.push_back(j);
                   });
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  JobCounter counter(one);
  EXPECT_EQ(counter.next(), 0);
  EXPECT_EQ(counter.next(), 1);
}
