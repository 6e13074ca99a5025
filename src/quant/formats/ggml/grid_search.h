#pragma once
// The search behind the grid i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S). In these formats a 256-value super-block has an fp16
// scale d; each sub-block of 16 or 32 values a small scale code l, so that
// its scale is s = d * unit * (2l + 1); each group of 8 (or 4) values is one
// point of a fixed grid, times s, with separate sign bits (IQ2/IQ3) or signed
// grid values (IQ1).
//
// For a sub-block scale s the weighted error of one group coded as grid
// point g is
//     E_g(s) = sum w (x - s v_g)^2 = Sxx - s C_g + s^2 B_g,
// with C_g = 2 sum w |x| v_g and B_g = sum w v_g^2 (x's own signs applied).
// When only 7 of 8 sign bits are stored, an odd number of negative values
// forces one value to the wrong sign; the cheapest to flip adds
// s * min_i 4 w_i |x_i| v_gi, folded into a second C. So after one pass over
// the grid to get B and C, the best point for any s is a min over g of
// s B_g - C_g: exhaustive, exact, and a vectorised min. The search:
//   1. each sub-block's ideal (continuous) scale: a coarse geometric scan of
//      s over the whole grid; then only the points that do best there are
//      kept (they are the ones that can win nearby), a fine scan around the
//      coarse optimum and least-squares refits of s run on those;
//   2. candidate super-scales d that put the largest ideal scale on or near
//      the top code; for each, every sub-block tries the codes around its
//      ideal scale, scored by its error;
//   3. d refitted by least squares to the best codes and points, tried too;
//   4. the points and signs of the chosen (d, codes) picked over the whole
//      grid again, so the final encoding is exactly the best for them.
// Every score is the weighted error the decoder will actually see (fp16 d,
// integer codes, exact grid values), where ggml's search rounds the scales
// after the fact and scores points with idealised grid values.
//
// Private to the ggml format code.
#include <cmath>
#include <cstdint>
#include <vector>

#include "quant/formats/ggml/grid_codebook.h"

namespace llmq::ggml::iq {

struct GridFormat {
  // One codebook per sub-block variant: IQ1_S has two (the delta sign is
  // shared by a sub-block), the other formats one.
  std::vector<const GridCodebook*> variants;
  bool sign_bits = true;     // grid values are magnitudes, each value has a sign bit
  bool even_parity = false;  // only 7 sign bits per 8 values: an even number of negatives
  int sub_size = 32;         // values sharing one scale code (16 or 32)
  int n_codes = 16;          // scale codes 0 .. n_codes-1
  float unit = 1;            // sub-block scale = d * unit * (2 l + 1)
};

struct SubBlockChoice {
  int variant = 0;
  uint16_t point[8] = {};  // grid point of each group
  uint8_t signs[4] = {};   // per 8 values: bit i set = value i negative (parity rule already met)
};

struct GridCode {
  uint16_t d_bits = 0;  // fp16 super-scale
  uint8_t code[16] = {};
  SubBlockChoice sub[16];
};

class GridSearch {
 public:
  explicit GridSearch(const GridFormat& format);
  // Fits 256 values with error weights w.
  void fit(const float* x, const float* w, GridCode& out);

 private:
  // The points of one group a search looks at: the whole grid, or the
  // shortlist kept near the sub-block's scale (index maps back to the grid).
  struct Table {
    const float* B;
    const float* C;
    const uint16_t* index;  // nullptr: the whole grid, in order
    int n;
  };
  enum Kind { kPlain = 0, kFlipped = 1 };  // C as is, or less the cheapest forced sign flip

  Table table(int j, int v, int group, Kind kind, bool shortlist) const;
  void build(int j);
  void shortlist(int j, float s);
  // Error of sub-block j at scale s, less its constant sum w x^2 (best
  // variant, or variant v).
  float cost(int j, float s, bool shortlist) const;
  float variant_cost(int j, int v, float s, bool shortlist) const;
  // Variants a search looks at: all on the whole grid, the kept one on a shortlist.
  int first_variant(int j, bool shortlist) const { return shortlist && kept_variant_[j] >= 0 ? kept_variant_[j] : 0; }
  int last_variant(int j, bool shortlist) const {
    return shortlist && kept_variant_[j] >= 0 ? kept_variant_[j] : int(f_.variants.size()) - 1;
  }
  // The best variant, points and signs at scale s; sum_b/sum_c: B and C of the choice.
  void choose(int j, float s, bool shortlist, SubBlockChoice& c, double& sum_b, double& sum_c) const;
  float ideal_scale(int j);

  // A super-scale and the best code of every sub-block for it.
  struct Candidate {
    uint16_t d_bits = 0;
    float d_eff = 0;          // d * unit as decoded
    double total = INFINITY;  // summed errors (less their constants); infinite if d is unusable
    uint8_t codes[16] = {};
  };
  void best_codes(const float* d_eff_wanted, int n_cand, const float* ideal, Candidate* out) const;

  const GridFormat& f_;
  int dim_, n_, groups_, units_, n_sub_, kinds_, short_n_;
  float s_top_ = 0;  // 1 / smallest grid magnitude: the largest useful scale per unit of max |x|
  const float* x_ = nullptr;
  const float* w_ = nullptr;
  bool odd_[16][4] = {};  // per sub-block and 8-value unit: odd number of negative values
  int kept_variant_[16] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  float* full_ = nullptr;     // [j][v][group][B, C, C flipped][n]
  float* short_ = nullptr;    // [j][v][group][kind][B, C][short_n]
  uint16_t* short_index_ = nullptr;  // [j][v][group][kind][short_n]
  int* short_len_ = nullptr;         // [j][v][group][kind]: points kept (a multiple of 64)
  float* scratch_ = nullptr;  // n values
};

}  // namespace llmq::ggml::iq
