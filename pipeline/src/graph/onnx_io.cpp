// The one translation unit that includes the ONNX protobuf headers.
#include "retort/graph/onnx_io.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

#include "retort/core/checked_alloc.h"
#include "retort/core/atomic_file.h"
#include "retort/graph/fold_constants.h"

namespace retort {
namespace {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; a big-endian host needs byte swapping here");

namespace fs = std::filesystem;

constexpr const char* kSupportedDtypes = "float32, int64, int32, int8, uint8, bool";

// ---- files ----------------------------------------------------------------------------------

Expected<std::string> read_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status))
    return make_error(ErrorCode::kNotFound, "'", path, "': no such file; check the path");
  if (fs::is_directory(status))
    return make_error(ErrorCode::kInvalidArgument, "'", path, "' is a directory, not a file");
  // Checked before reading it all into memory: parsing would refuse it anyway.
  if (const auto size = fs::file_size(path, ec); !ec && size > static_cast<uintmax_t>(INT_MAX))
    return make_error(ErrorCode::kUnsupported, "'", path, "': ", size,
                      " bytes, larger than 2 GiB, the protobuf limit for one file (ONNX external "
                      "data is not supported)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "'", path, "': cannot open: ", std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIo, "'", path, "': read failed");
  return std::move(bytes).str();
}

// ---- tensors --------------------------------------------------------------------------------

std::optional<DType> dtype_from_onnx(int32_t type) {
  switch (type) {
    case onnx::TensorProto_DataType_FLOAT:
      return DType::kFloat32;
    case onnx::TensorProto_DataType_INT64:
      return DType::kInt64;
    case onnx::TensorProto_DataType_INT32:
      return DType::kInt32;
    case onnx::TensorProto_DataType_INT8:
      return DType::kInt8;
    case onnx::TensorProto_DataType_UINT8:
      return DType::kUInt8;
    case onnx::TensorProto_DataType_BOOL:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

int32_t dtype_to_onnx(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return onnx::TensorProto_DataType_FLOAT;
    case DType::kInt64:
      return onnx::TensorProto_DataType_INT64;
    case DType::kInt32:
      return onnx::TensorProto_DataType_INT32;
    case DType::kInt8:
      return onnx::TensorProto_DataType_INT8;
    case DType::kUInt8:
      return onnx::TensorProto_DataType_UINT8;
    case DType::kBool:
      return onnx::TensorProto_DataType_BOOL;
  }
  return onnx::TensorProto_DataType_UNDEFINED;
}

std::string onnx_type_name(int32_t type) {
  if (!onnx::TensorProto_DataType_IsValid(type)) return "unknown type " + std::to_string(type);
  return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(type));
}

// `what` names the tensor in messages ("initializer 'fc1.weight'").
Expected<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& what) {
  auto dtype = dtype_from_onnx(p.data_type());
  if (!dtype)
    return make_error(ErrorCode::kUnsupported, what, " has element type ",
                      onnx_type_name(p.data_type()),
                      ", which retort does not support (supported: ", kSupportedDtypes,
                      "); convert it to float32 before exporting");
  if (p.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    std::string location;
    for (const auto& entry : p.external_data())
      if (entry.key() == "location") location = entry.value();
    return make_error(ErrorCode::kUnsupported, what, " keeps its data in the external file '",
                      location,
                      "', which retort does not read; save the model with the weights embedded "
                      "(onnx.save(model, path, save_as_external_data=False))");
  }
  if (p.has_segment())
    return make_error(ErrorCode::kUnsupported, what,
                      " is a segment of a larger tensor, which "
                      "retort does not support");
  // Every size here comes from the file: the dims must describe exactly the data the file
  // holds before anything is allocated (a corrupt or hostile file may claim 2^40 elements).
  const Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape)
    if (d < 0)
      return make_error(ErrorCode::kParse, what, " has a negative dimension ", d, " in its shape ",
                        shape_to_string(shape), " (the file is corrupt)");
  const std::optional<int64_t> numel = checked_numel(shape);
  if (!numel)
    return make_error(ErrorCode::kParse, what, " has the shape ", shape_to_string(shape),
                      ", whose element count overflows 64 bits (the file is corrupt)");
  const auto n = static_cast<uint64_t>(*numel);
  const uint64_t element = dtype_size(*dtype);
  auto count_error = [&](const char* field, int64_t count) {
    return make_error(ErrorCode::kParse, what, " has ", count, " values in ", field,
                      " but its shape ", shape_to_string(shape), " needs ", n,
                      " (the file is corrupt)");
  };
  if (p.has_raw_data()) {
    const uint64_t have = p.raw_data().size();
    if (n > std::numeric_limits<uint64_t>::max() / element || have != n * element)
      return make_error(ErrorCode::kParse, what, " has ", have, " bytes of raw_data but its shape ",
                        shape_to_string(shape), " and type ", dtype_name(*dtype), " need ",
                        n <= std::numeric_limits<uint64_t>::max() / element
                            ? std::to_string(n * element)
                            : std::string("more than 2^64"),
                        " (the file is corrupt)");
  } else {
    switch (*dtype) {
      case DType::kFloat32:
        if (static_cast<uint64_t>(p.float_data_size()) != n)
          return count_error("float_data", p.float_data_size());
        break;
      case DType::kInt64:
        if (static_cast<uint64_t>(p.int64_data_size()) != n)
          return count_error("int64_data", p.int64_data_size());
        break;
      case DType::kInt32:
      case DType::kInt8:
      case DType::kUInt8:
      case DType::kBool:
        // ONNX stores these (one value per int32) in int32_data.
        if (static_cast<uint64_t>(p.int32_data_size()) != n)
          return count_error("int32_data", p.int32_data_size());
        break;
    }
  }
  // The data is in the file, so the size is bounded by the file's (at most 2 GiB); memory
  // may still run out.
  RETORT_ASSIGN_OR_RETURN(Tensor t, allocate_tensor(*dtype, shape, what));
  if (p.has_raw_data()) {
    if (n > 0) std::memcpy(t.raw(), p.raw_data().data(), t.nbytes());
    return t;
  }
  switch (*dtype) {
    case DType::kFloat32:
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>());
      break;
    case DType::kInt64:
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<int64_t>());
      break;
    case DType::kInt32:
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool:
      for (size_t i = 0; i < n; ++i) {
        const int32_t v = p.int32_data(static_cast<int>(i));
        if (*dtype == DType::kInt32) t.data<int32_t>()[i] = v;
        if (*dtype == DType::kInt8) t.data<int8_t>()[i] = static_cast<int8_t>(v);
        if (*dtype == DType::kUInt8) t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
        if (*dtype == DType::kBool) t.data<bool>()[i] = v != 0;
      }
      break;
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* p) {
  p->set_name(name);
  p->set_data_type(dtype_to_onnx(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.numel() > 0) p->set_raw_data(t.raw(), t.nbytes());
}

// ---- values, attributes, nodes --------------------------------------------------------------

// Converts a value's type; `what` names it ("graph input 'x'"). Without a shape the dims stay
// empty and `has_shape` is false.
Expected<ValueInfo> value_info_from_proto(const onnx::ValueInfoProto& p, const std::string& what,
                                          bool* has_shape) {
  ValueInfo vi;
  vi.name = p.name();
  *has_shape = false;
  if (!p.has_type() || !p.type().has_tensor_type())
    return make_error(ErrorCode::kUnsupported, what,
                      " is not a tensor (sequences, maps and optionals are not supported)");
  const auto& tt = p.type().tensor_type();
  auto dtype = dtype_from_onnx(tt.elem_type());
  if (!dtype)
    return make_error(ErrorCode::kUnsupported, what, " has element type ",
                      onnx_type_name(tt.elem_type()),
                      ", which retort does not support (supported: ", kSupportedDtypes, ")");
  vi.dtype = *dtype;
  if (tt.has_shape()) {
    *has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() >= 0)
        vi.dims.push_back(Dim::fixed(d.dim_value()));
      else if (d.has_dim_param())
        vi.dims.push_back(Dim::symbolic(d.dim_param()));
      else
        vi.dims.push_back(Dim{});  // unknown, unnamed
    }
  }
  return vi;
}

void value_info_to_proto(const ValueInfo& vi, onnx::ValueInfoProto* p) {
  p->set_name(vi.name);
  auto* tt = p->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(dtype_to_onnx(vi.dtype));
  auto* shape = tt->mutable_shape();
  for (const Dim& d : vi.dims) {
    auto* dim = shape->add_dim();
    if (d.is_fixed())
      dim->set_dim_value(d.value);
    else if (!d.param.empty())
      dim->set_dim_param(d.param);
  }
}

Expected<Attribute> attribute_from_proto(const onnx::AttributeProto& p, const std::string& node) {
  const std::string what = node + ": attribute '" + p.name() + "'";
  Attribute a;
  switch (p.type()) {
    case onnx::AttributeProto_AttributeType_FLOAT:
      return Attribute::of_float(p.f());
    case onnx::AttributeProto_AttributeType_INT:
      return Attribute::of_int(p.i());
    case onnx::AttributeProto_AttributeType_STRING:
      return Attribute::of_string(p.s());
    case onnx::AttributeProto_AttributeType_TENSOR: {
      RETORT_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(p.t(), what));
      return Attribute::of_tensor(std::move(t));
    }
    case onnx::AttributeProto_AttributeType_FLOATS:
      return Attribute::of_floats({p.floats().begin(), p.floats().end()});
    case onnx::AttributeProto_AttributeType_INTS:
      return Attribute::of_ints({p.ints().begin(), p.ints().end()});
    case onnx::AttributeProto_AttributeType_STRINGS:
      a.kind = Attribute::Kind::kStrings;
      a.strings.assign(p.strings().begin(), p.strings().end());
      return a;
    case onnx::AttributeProto_AttributeType_UNDEFINED:
      return make_error(ErrorCode::kParse, what,
                        " has no type (the file is corrupt or was "
                        "written by a very old exporter)");
    default:
      return make_error(ErrorCode::kUnsupported, what, " is of kind ",
                        onnx::AttributeProto_AttributeType_Name(p.type()),
                        "; only int, float, string, tensor and their lists are supported "
                        "(no subgraphs: If, Loop and Scan cannot be loaded)");
  }
}

void attribute_to_proto(const std::string& name, const Attribute& a, onnx::AttributeProto* p) {
  p->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::kInt:
      p->set_type(onnx::AttributeProto_AttributeType_INT);
      p->set_i(a.i);
      break;
    case Attribute::Kind::kFloat:
      p->set_type(onnx::AttributeProto_AttributeType_FLOAT);
      p->set_f(a.f);
      break;
    case Attribute::Kind::kString:
      p->set_type(onnx::AttributeProto_AttributeType_STRING);
      p->set_s(a.s);
      break;
    case Attribute::Kind::kInts:
      p->set_type(onnx::AttributeProto_AttributeType_INTS);
      for (int64_t v : a.ints) p->add_ints(v);
      break;
    case Attribute::Kind::kFloats:
      p->set_type(onnx::AttributeProto_AttributeType_FLOATS);
      for (float v : a.floats) p->add_floats(v);
      break;
    case Attribute::Kind::kStrings:
      p->set_type(onnx::AttributeProto_AttributeType_STRINGS);
      for (const auto& v : a.strings) p->add_strings(v);
      break;
    case Attribute::Kind::kTensor:
      p->set_type(onnx::AttributeProto_AttributeType_TENSOR);
      tensor_to_proto(a.t, "", p->mutable_t());
      break;
  }
}

// ---- models ---------------------------------------------------------------------------------

// An opset older than kMinOnnxOpset can be read as kMinOnnxOpset when every default-domain
// operator of the graph has the same definition (schema version) in both.
Status check_upgradable(const onnx::GraphProto& gp, int64_t opset) {
  for (const auto& np : gp.node()) {
    if (!np.domain().empty() && np.domain() != "ai.onnx") continue;
    const auto* old_schema =
        onnx::OpSchemaRegistry::Schema(np.op_type(), static_cast<int>(opset), "");
    const auto* new_schema =
        onnx::OpSchemaRegistry::Schema(np.op_type(), static_cast<int>(kMinOnnxOpset), "");
    const std::string& label =
        !np.name().empty() || np.output_size() == 0 ? np.name() : np.output(0);
    const std::string node = detail::str_cat("node '", label, "' (", np.op_type(), ")");
    if (old_schema == nullptr || new_schema == nullptr)
      return make_error(ErrorCode::kUnsupported, node, ": operator unknown to ONNX at opset ",
                        opset);
    if (old_schema->since_version() != new_schema->since_version())
      return make_error(ErrorCode::kUnsupported, node, ": its definition changed between opset ",
                        opset, " (version ", old_schema->since_version(), ") and opset ",
                        kMinOnnxOpset, " (version ", new_schema->since_version(), ")");
  }
  return Status::Ok();
}

Expected<Model> model_from_proto(const onnx::ModelProto& mp, const OnnxLoadOptions& options) {
  if (!mp.has_graph())
    return make_error(ErrorCode::kParse,
                      "not a valid ONNX model: it has no graph (the file is corrupt, empty or "
                      "not an ONNX model)");
  Model model;
  model.ir_version = mp.ir_version();
  model.producer_name = mp.producer_name();
  model.producer_version = mp.producer_version();
  std::optional<int64_t> opset;
  for (const auto& imp : mp.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx") opset = imp.version();
  if (!opset)
    return make_error(ErrorCode::kUnsupported,
                      "the model imports no opset of the default ONNX domain; re-export it with "
                      "opset ",
                      kMinOnnxOpset, " or newer");
  if (*opset < kMinOnnxOpset && options.upgrade_unchanged_opset) {
    Status upgradable = check_upgradable(mp.graph(), *opset);
    if (!upgradable.ok())
      return make_error(ErrorCode::kUnsupported, "the model uses ONNX opset ", *opset,
                        " and cannot be read as opset ", kMinOnnxOpset, ": ", upgradable.message(),
                        "; convert it ", "(onnx.version_converter.convert_version(model, ",
                        kMinOnnxOpset, "))");
    opset = kMinOnnxOpset;
  }
  if (*opset < kMinOnnxOpset)
    return make_error(
        ErrorCode::kUnsupported, "the model uses ONNX opset ", *opset, ", but retort needs opset ",
        kMinOnnxOpset,
        " or newer; re-export it (torch.onnx.export(..., opset_version=", kMinOnnxOpset,
        ")) or convert it (onnx.version_converter.convert_version(model, ", kMinOnnxOpset, "))");
  model.opset = *opset;
  for (const auto& prop : mp.metadata_props()) model.metadata[prop.key()] = prop.value();

  const onnx::GraphProto& gp = mp.graph();
  Graph& g = model.graph;
  g.name = gp.name();
  if (gp.sparse_initializer_size() > 0)
    return make_error(ErrorCode::kUnsupported, "sparse initializer '",
                      gp.sparse_initializer(0).values().name(),
                      "' is not supported; store it as a dense initializer");
  for (const auto& init : gp.initializer()) {
    const std::string what = "initializer '" + init.name() + "'";
    if (init.name().empty())
      return make_error(ErrorCode::kParse, "an initializer has no name (the file is corrupt)");
    if (g.initializers.count(init.name()))
      return make_error(ErrorCode::kParse, what, " is defined twice");
    RETORT_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(init, what));
    g.initializers.emplace(init.name(), std::move(t));
  }
  bool has_shape = false;
  for (const auto& in : gp.input()) {
    if (g.is_initializer(in.name())) continue;  // IR < 4 lists initializers as inputs too
    RETORT_ASSIGN_OR_RETURN(
        ValueInfo vi, value_info_from_proto(in, "graph input '" + in.name() + "'", &has_shape));
    if (!has_shape)
      return make_error(ErrorCode::kUnsupported, "graph input '", in.name(),
                        "' has no shape; export the model with input shapes");
    g.inputs.push_back(std::move(vi));
  }
  std::set<std::string> outputs_without_shape;
  for (const auto& out : gp.output()) {
    RETORT_ASSIGN_OR_RETURN(
        ValueInfo vi, value_info_from_proto(out, "graph output '" + out.name() + "'", &has_shape));
    if (!has_shape) outputs_without_shape.insert(vi.name);
    g.outputs.push_back(std::move(vi));
  }
  for (const auto& v : gp.value_info()) {
    // Annotations only: a value of a type retort does not model is simply not annotated.
    auto vi = value_info_from_proto(v, "value '" + v.name() + "'", &has_shape);
    if (vi.ok() && has_shape) g.value_infos.push_back(std::move(vi).value());
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    const onnx::NodeProto& np = gp.node(i);
    Node node;
    node.name = np.name();
    node.op_type = np.op_type();
    node.domain = np.domain();
    node.inputs.assign(np.input().begin(), np.input().end());
    node.outputs.assign(np.output().begin(), np.output().end());
    const std::string where = node.describe();
    for (const auto& ap : np.attribute()) {
      RETORT_ASSIGN_OR_RETURN(Attribute a, attribute_from_proto(ap, where));
      node.attributes[ap.name()] = std::move(a);
    }
    g.nodes.push_back(std::move(node));
  }

  RETORT_RETURN_IF_ERROR(g.sort_topologically());
  RETORT_RETURN_IF_ERROR(fold_constants(model));
  // An export with a fixed batch runs at any batch when the batch can be followed safely;
  // otherwise it keeps its batch, and plans run it at that batch (analyze_fixed_batch says why).
  (void)make_batch_symbolic(model);
  if (!outputs_without_shape.empty()) {
    const auto shapes = infer_shapes(g);
    for (ValueInfo& vi : g.outputs) {
      auto it = shapes.find(vi.name);
      if (outputs_without_shape.count(vi.name) && it != shapes.end()) vi.dims = it->second;
    }
  }
  return model;
}

Expected<onnx::ModelProto> model_to_proto(const Model& model) {
  onnx::ModelProto mp;
  mp.set_ir_version(model.ir_version);
  mp.set_producer_name(model.producer_name);
  mp.set_producer_version(model.producer_version);
  auto* opset = mp.add_opset_import();
  opset->set_domain("");
  opset->set_version(model.opset);
  std::set<std::string> domains;
  for (const Node& n : model.graph.nodes)
    if (!n.domain.empty() && n.domain != "ai.onnx") domains.insert(n.domain);
  for (const auto& d : domains) {
    auto* imp = mp.add_opset_import();
    imp->set_domain(d);
    imp->set_version(1);
  }
  for (const auto& [key, value] : model.metadata) {
    auto* prop = mp.add_metadata_props();
    prop->set_key(key);
    prop->set_value(value);
  }
  const Graph& g = model.graph;
  auto* gp = mp.mutable_graph();
  gp->set_name(g.name.empty() ? "retort" : g.name);
  for (const Node& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!n.domain.empty()) np->set_domain(n.domain);
    for (const auto& in : n.inputs) np->add_input(in);
    for (const auto& out : n.outputs) np->add_output(out);
    for (const auto& [name, attr] : n.attributes)
      attribute_to_proto(name, attr, np->add_attribute());
  }
  for (const auto& [name, t] : g.initializers) {
    if (t.empty())
      return make_error(ErrorCode::kInvalidArgument, "initializer '", name, "' has no data");
    tensor_to_proto(t, name, gp->add_initializer());
  }
  for (const ValueInfo& vi : g.inputs) value_info_to_proto(vi, gp->add_input());
  for (const ValueInfo& vi : g.outputs) value_info_to_proto(vi, gp->add_output());
  for (const ValueInfo& vi : g.value_infos) value_info_to_proto(vi, gp->add_value_info());
  return mp;
}

}  // namespace

Expected<Model> parse_onnx(std::string_view bytes, const std::string& origin,
                           const OnnxLoadOptions& options) {
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    return make_error(ErrorCode::kUnsupported, origin,
                      ": larger than 2 GiB, the protobuf limit for one file (ONNX external data "
                      "is not supported)");
  onnx::ModelProto mp;
  if (!mp.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(ErrorCode::kParse, origin,
                      ": not a valid ONNX model (the protobuf does not parse: the file is "
                      "corrupt, truncated or not an ONNX file)");
  // Tensors are allocated through allocate_tensor, which names them; this catches what is
  // left (the IR's own vectors and strings) when memory runs out.
  try {
    auto model = model_from_proto(mp, options);
    if (!model.ok()) return model.status().with_context(origin);
    return model;
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kInvalidArgument, origin, ": out of memory while loading the ",
                      bytes.size(), "-byte model");
  }
}

Expected<Model> load_onnx(const std::string& path, const OnnxLoadOptions& options) {
  RETORT_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  return parse_onnx(bytes, "'" + path + "'", options);
}

Expected<std::string> serialize_onnx(const Model& model) {
  RETORT_ASSIGN_OR_RETURN(onnx::ModelProto mp, model_to_proto(model));
  try {
    onnx::checker::check_model(mp);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "onnx::checker rejects the model: ", e.what());
  }
  if (mp.ByteSizeLong() > static_cast<size_t>(INT_MAX))
    return make_error(ErrorCode::kUnsupported,
                      "the model is larger than 2 GiB, the protobuf limit for one file");
  std::string bytes;
  if (!mp.SerializeToString(&bytes))
    return make_error(ErrorCode::kInternal, "protobuf failed to serialize the model");
  return bytes;
}

Status save_onnx(const Model& model, const std::string& path) {
  auto bytes = serialize_onnx(model);
  if (!bytes.ok()) return bytes.status().with_context("cannot save '" + path + "'");
  return write_file_atomically(path, *bytes);
}

Expected<Tensor> load_tensor_pb(const std::string& path) {
  RETORT_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
  onnx::TensorProto tp;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !tp.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(ErrorCode::kParse, "'", path,
                      "': not a valid ONNX TensorProto file (corrupt or another format)");
  auto t = tensor_from_proto(tp, "tensor '" + tp.name() + "'");
  if (!t.ok()) return t.status().with_context("'" + path + "'");
  return t;
}

Status save_tensor_pb(const Tensor& tensor, const std::string& path) {
  if (tensor.empty())
    return make_error(ErrorCode::kInvalidArgument, "cannot save an empty tensor to '", path, "'");
  onnx::TensorProto tp;
  tensor_to_proto(tensor, "", &tp);
  std::string bytes;
  if (!tp.SerializeToString(&bytes))
    return make_error(ErrorCode::kInternal, "protobuf failed to serialize a tensor for '", path,
                      "'");
  return write_file_atomically(path, bytes);
}

}  // namespace retort
