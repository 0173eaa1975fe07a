// PyTorch's tensor repr reimplemented over a CPU copy of the values. The rules follow
// torch/_tensor_str.py (_Formatter, _vector_str, _tensor_str_with_formatter, _add_suffixes) so that a
// tensor prints here exactly as the same tensor prints in Python.
#include "tensor_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace ft::lua {
namespace {

enum class Kind { Float, Int, Bool };

// The values of a tensor as one flat row-major array (doubles, int64s or bools), with its sizes.
struct Flat {
  Kind kind = Kind::Float;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;  // row-major strides in elements
  at::Tensor data;               // contiguous CPU tensor of kDouble / kLong / kBool
  const double* f = nullptr;
  const int64_t* i = nullptr;
  const bool* b = nullptr;
};

Flat flat_copy(const at::Tensor& t) {
  Flat fl;
  at::Tensor x = t.detach();
  if (x.device().type() != c10::DeviceType::CPU) x = x.to(at::kCPU);
  if (at::isFloatingType(x.scalar_type())) {
    fl.kind = Kind::Float;
    fl.data = x.to(at::kDouble).contiguous();
    fl.f = fl.data.data_ptr<double>();
  } else if (x.scalar_type() == at::kBool) {
    fl.kind = Kind::Bool;
    fl.data = x.contiguous();
    fl.b = fl.data.data_ptr<bool>();
  } else {
    fl.kind = Kind::Int;
    fl.data = x.to(at::kLong).contiguous();
    fl.i = fl.data.data_ptr<int64_t>();
  }
  fl.sizes = fl.data.sizes().vec();
  fl.strides.assign(fl.sizes.size(), 1);
  for (int d = static_cast<int>(fl.sizes.size()) - 2; d >= 0; --d)
    fl.strides[d] = fl.strides[d + 1] * fl.sizes[d + 1];
  return fl;
}

std::string printf_double(const char* fmt, int precision, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, precision, v);
  return buf;
}

// Python's "{:.Nf}" / "{:.Ne}" / "{:.0f}": like printf, but NaN prints as "nan" whatever its sign bit.
std::string fmt_fixed(double v, int precision) {
  if (std::isnan(v)) return "nan";
  return printf_double("%.*f", precision, v);
}
std::string fmt_sci(double v, int precision) {
  if (std::isnan(v)) return "nan";
  return printf_double("%.*e", precision, v);
}

// _Formatter: decides int/fixed/scientific mode and the common column width from the shown values.
class Formatter {
 public:
  Formatter(const Flat& fl, const std::vector<int64_t>& shown, int precision)
      : kind_(fl.kind), precision_(precision) {
    if (kind_ != Kind::Float) {
      for (int64_t k : shown) width_ = std::max(width_, plain(fl, k).size());
      return;
    }
    double amin = 0, amax = 0;
    bool any = false;
    for (int64_t k : shown) {
      double v = fl.f[k];
      if (!std::isfinite(v) || v == 0) continue;
      double a = std::fabs(v);
      if (!any) {
        amin = amax = a;
        any = true;
      } else {
        amin = std::min(amin, a);
        amax = std::max(amax, a);
      }
      if (v != std::ceil(v)) int_mode_ = false;
    }
    if (!any) return;  // nothing finite and non-zero: int mode, width 1
    bool wide = amax / amin > 1000.0 || amax > 1.0e8;
    sci_ = int_mode_ ? wide : (wide || amin < 1.0e-4);
    for (int64_t k : shown) {
      double v = fl.f[k];
      if (!std::isfinite(v) || v == 0) continue;
      size_t w = sci_        ? fmt_sci(v, precision_).size()
                 : int_mode_ ? fmt_fixed(v, 0).size() + 1
                             : fmt_fixed(v, precision_).size();
      width_ = std::max(width_, w);
    }
  }

  size_t width() const { return width_; }

  std::string format(const Flat& fl, int64_t k) const {
    std::string s;
    if (kind_ != Kind::Float) {
      s = plain(fl, k);
    } else {
      double v = fl.f[k];
      if (sci_) {
        s = fmt_sci(v, precision_);
      } else if (int_mode_) {
        s = fmt_fixed(v, 0);
        if (std::isfinite(v)) s += ".";
      } else {
        s = fmt_fixed(v, precision_);
      }
    }
    if (s.size() < width_) s.insert(0, width_ - s.size(), ' ');
    return s;
  }

 private:
  static std::string plain(const Flat& fl, int64_t k) {
    if (fl.kind == Kind::Bool) return fl.b[k] ? "True" : "False";
    return std::to_string(fl.i[k]);
  }

  Kind kind_;
  int precision_;
  bool int_mode_ = true;
  bool sci_ = false;
  size_t width_ = 1;
};

class Printer {
 public:
  // `cut[d]`: dim d was summarised, so `fl` holds only its first and last edgeitems rows.
  Printer(const Flat& fl, const TensorPrintOptions& o, std::vector<bool> cut)
      : fl_(fl), o_(o), cut_(std::move(cut)) {}

  // Indices (into the flat array) of the values the repr shows: get_summarized_data.
  void collect(int dim, int64_t base, std::vector<int64_t>& out) const {
    if (dim == static_cast<int>(fl_.sizes.size())) {
      out.push_back(base);
      return;
    }
    for (int64_t j : rows(dim)) {
      if (j < 0) continue;
      collect(dim + 1, base + j * fl_.strides[dim], out);
    }
  }

  // _tensor_str_with_formatter
  std::string str(const Formatter& fmt, int dim, int64_t base, int indent) const {
    int ndim = static_cast<int>(fl_.sizes.size());
    if (ndim == 0) return fmt.format(fl_, base);
    if (dim == ndim - 1) return vector(fmt, base, indent);
    std::string sep = "," + std::string(ndim - dim - 1, '\n') + std::string(indent + 1, ' ');
    std::string out = "[";
    bool first = true;
    for (int64_t j : rows(dim)) {
      if (!first) out += sep;
      first = false;
      out += j < 0 ? "..." : str(fmt, dim + 1, base + j * fl_.strides[dim], indent + 1);
    }
    return out + "]";
  }

 private:
  // The rows of a dimension that are shown; -1 marks the "..." gap.
  std::vector<int64_t> rows(int dim) const {
    int64_t n = fl_.sizes[dim];
    std::vector<int64_t> r;
    if (cut_[dim]) {
      for (int64_t j = 0; j < o_.edgeitems; ++j) r.push_back(j);
      r.push_back(-1);
      for (int64_t j = o_.edgeitems; j < n; ++j) r.push_back(j);
    } else {
      for (int64_t j = 0; j < n; ++j) r.push_back(j);
    }
    return r;
  }

  // _vector_str: the last dimension, wrapped to the line width.
  std::string vector(const Formatter& fmt, int64_t base, int indent) const {
    int dim = static_cast<int>(fl_.sizes.size()) - 1;
    double element_length = static_cast<double>(fmt.width() + 2);
    int64_t per_line =
        std::max<int64_t>(1, static_cast<int64_t>(std::floor((o_.linewidth - indent) / element_length)));
    std::vector<std::string> items;
    for (int64_t j : rows(dim))
      items.push_back(j < 0 ? " ..." : fmt.format(fl_, base + j * fl_.strides[dim]));
    std::string out = "[";
    std::string line_sep = ",\n" + std::string(indent + 1, ' ');
    for (size_t k = 0; k < items.size(); ++k) {
      if (k > 0) out += (k % per_line == 0) ? line_sep : ", ";
      out += items[k];
    }
    return out + "]";
  }

  const Flat& fl_;
  const TensorPrintOptions& o_;
  std::vector<bool> cut_;
};

std::string shape_tuple(const at::Tensor& t) {
  std::string s = "(";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  if (t.dim() == 1) s += ",";
  return s + ")";
}

// _add_suffixes: ", suffix" on the last line, or on a new line when it would pass the line width.
std::string add_suffixes(std::string s, const std::vector<std::string>& suffixes, int indent, int linewidth) {
  size_t nl = s.rfind('\n');
  int64_t last_line_len =
      static_cast<int64_t>(s.size()) - (nl == std::string::npos ? -1 : static_cast<int64_t>(nl)) + 1;
  for (const auto& suffix : suffixes) {
    int64_t len = static_cast<int64_t>(suffix.size());
    if (last_line_len + len + 2 > linewidth) {
      s += ",\n" + std::string(indent, ' ') + suffix;
      last_line_len = indent + len;
    } else {
      s += ", " + suffix;
      last_line_len += len + 2;
    }
  }
  return s + ")";
}

}  // namespace

TensorPrintOptions& tensor_print_options() {
  static TensorPrintOptions opts;
  return opts;
}

std::string torch_dtype_name(c10::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "torch.float32";
    case at::kDouble:
      return "torch.float64";
    case at::kHalf:
      return "torch.float16";
    case at::kBFloat16:
      return "torch.bfloat16";
    case at::kLong:
      return "torch.int64";
    case at::kInt:
      return "torch.int32";
    case at::kShort:
      return "torch.int16";
    case at::kChar:
      return "torch.int8";
    case at::kByte:
      return "torch.uint8";
    case at::kBool:
      return "torch.bool";
    case at::kComplexFloat:
      return "torch.complex64";
    case at::kComplexDouble:
      return "torch.complex128";
    default:
      return std::string("torch.") + c10::toString(t);
  }
}

std::string format_tensor(const at::Tensor& t) {
  return format_tensor(t, tensor_print_options());
}

std::string format_tensor(const at::Tensor& t, const TensorPrintOptions& opts) {
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  if (!t.defined()) return "tensor(undefined)";
  std::vector<std::string> suffixes;
  if (t.device().type() != c10::DeviceType::CPU) suffixes.push_back("device='" + t.device().str() + "'");

  std::string body;
  if (at::isComplexType(t.scalar_type())) {
    // fthost never creates complex tensors; show the shape rather than guess at Python's complex layout.
    body = "<complex values>";
    suffixes.push_back("size=" + shape_tuple(t));
    suffixes.push_back("dtype=" + torch_dtype_name(t.scalar_type()));
  } else if (t.numel() == 0) {
    body = "[]";
    if (t.dim() != 1) suffixes.push_back("size=" + shape_tuple(t));
    if (t.scalar_type() != at::kFloat) suffixes.push_back("dtype=" + torch_dtype_name(t.scalar_type()));
  } else {
    c10::ScalarType st = t.scalar_type();
    if (st != at::kFloat && st != at::kLong && st != at::kBool)
      suffixes.push_back("dtype=" + torch_dtype_name(st));
    // Summarising keeps the first and last edgeitems rows of every long dim; only those are copied and
    // converted (a model weight prints without a full copy).
    at::Tensor x = t.detach();
    std::vector<bool> cut(x.dim(), false);
    if (t.numel() > opts.threshold) {
      for (int64_t d = 0; d < x.dim(); ++d) {
        int64_t n = x.size(d), e = opts.edgeitems;
        if (n > 2 * e) {
          x = at::cat({x.narrow(d, 0, e), x.narrow(d, n - e, e)}, d);
          cut[d] = true;
        }
      }
    }
    Flat fl = flat_copy(x);
    Printer printer(fl, opts, cut);
    std::vector<int64_t> shown;
    printer.collect(0, 0, shown);
    Formatter fmt(fl, shown, opts.precision);
    body = printer.str(fmt, 0, 0, indent);
  }

  if (t.grad_fn()) {
    suffixes.push_back("grad_fn=<" + t.grad_fn()->name() + ">");
  } else if (t.requires_grad()) {
    suffixes.push_back("requires_grad=True");
  }
  return add_suffixes(prefix + body, suffixes, indent, opts.linewidth);
}

}  // namespace ft::lua
