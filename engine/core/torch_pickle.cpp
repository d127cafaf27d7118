// The restricted unpickler (see torch_pickle.h; the zip checkpoint around
// it is read in torch_archive.cpp).
//
// The virtual machine keeps every value in one arena (`objects_`), and the
// stack, the memo and containers hold indices into it, so shared and even
// cyclic references (which a hostile pickle can build through the memo)
// cost nothing and leak nothing. Values are plain data; the only "calls"
// are the allow-listed constructors below, implemented here.
#include "core/torch_pickle.h"

#include "core/errors.h"
#include "core/printable.h"

#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace daub {

size_t torch_dtype_size(TorchDtype dtype) {
    switch (dtype) {
    case TorchDtype::F64:
    case TorchDtype::I64:
        return 8;
    case TorchDtype::F32:
    case TorchDtype::I32:
        return 4;
    case TorchDtype::F16:
    case TorchDtype::BF16:
    case TorchDtype::I16:
        return 2;
    case TorchDtype::I8:
    case TorchDtype::U8:
    case TorchDtype::BOOL:
        return 1;
    }
    return 1;
}

const char* torch_dtype_name(TorchDtype dtype) {
    switch (dtype) {
    case TorchDtype::F64:
        return "float64";
    case TorchDtype::F32:
        return "float32";
    case TorchDtype::F16:
        return "float16";
    case TorchDtype::BF16:
        return "bfloat16";
    case TorchDtype::I64:
        return "int64";
    case TorchDtype::I32:
        return "int32";
    case TorchDtype::I16:
        return "int16";
    case TorchDtype::I8:
        return "int8";
    case TorchDtype::U8:
        return "uint8";
    case TorchDtype::BOOL:
        return "bool";
    }
    return "?";
}

namespace {

// Bounds. A real SDXL checkpoint's pickle has a few thousand tensors and
// well under 100,000 values; these leave a wide margin and cap memory.
constexpr size_t kMaxPickleBytes = 256u << 20;
constexpr size_t kMaxObjects = 2u << 20;
constexpr size_t kMaxStack = 1u << 20;
constexpr size_t kMaxMarks = 1024;
constexpr size_t kMaxMemo = 2u << 20;
constexpr size_t kMaxContainerItems = 16u << 20; ///< all containers together
constexpr size_t kMaxStringBytes = 16u << 20;    ///< one string or bytes value
constexpr size_t kMaxGlobalName = 256;
constexpr size_t kMaxRank = 16;
constexpr size_t kMaxDictDepth = 16;
constexpr size_t kMaxKeyLength = 4096;
constexpr size_t kMaxKeyBytes = 64u << 20; ///< all kept tensor names together
constexpr size_t kMaxTensors = 1u << 18;   ///< built, and kept
constexpr size_t kMaxVisited = 1u << 20;   ///< dict entries looked at while flattening


enum class Kind : uint8_t {
    None,
    Bool,
    Int,
    Float,
    Str,
    Bytes,
    Tuple,
    List,
    Dict,
    Set,
    Global,
    Storage,
    Tensor
};

const char* kind_name(Kind k) {
    switch (k) {
    case Kind::None:
        return "None";
    case Kind::Bool:
        return "a bool";
    case Kind::Int:
        return "an int";
    case Kind::Float:
        return "a float";
    case Kind::Str:
        return "a string";
    case Kind::Bytes:
        return "bytes";
    case Kind::Tuple:
        return "a tuple";
    case Kind::List:
        return "a list";
    case Kind::Dict:
        return "a dict";
    case Kind::Set:
        return "a set";
    case Kind::Global:
        return "a class or function";
    case Kind::Storage:
        return "a storage";
    case Kind::Tensor:
        return "a tensor";
    }
    return "?";
}

/// The callables a weights file may name.
enum class Callable : uint8_t {
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    StorageType
};

struct Obj {
    Kind kind = Kind::None;
    Callable callable = Callable::OrderedDict; ///< Global
    TorchDtype dtype = TorchDtype::F32;        ///< Global StorageType
    int64_t i = 0;               ///< Bool, Int; Storage / Tensor: index into the VM's records
    double f = 0;                ///< Float
    std::string s;               ///< Str, Bytes; Global: "module.name"
    std::vector<uint32_t> items; ///< Tuple, List, Set; Dict: key, value, key, value...
    /// Dict: hashable key -> entry number (items[2n], items[2n+1]).
    std::unique_ptr<std::unordered_map<std::string, uint32_t>> index;
};

struct StorageRecord {
    std::string key;
    TorchDtype dtype;
    int64_t numel;
};

class Unpickler {
public:
    Unpickler(std::span<const uint8_t> data, const std::string& name) : d_(data), name_(name) {
        // Shared immutable singletons.
        none_ = make(Kind::None);
        true_ = make(Kind::Bool);
        objects_[true_].i = 1;
        false_ = make(Kind::Bool);
    }

    TorchPickle run();

private:
    // --- errors ---------------------------------------------------------
    [[noreturn]] void damaged(const std::string& what) const {
        throw FormatError(name_ + " is damaged: its pickle (data.pkl) " + what + " at byte " +
                          std::to_string(op_pos_) + ".");
    }
    [[noreturn]] void too_big(const std::string& what, size_t limit) const {
        throw FormatError(name_ + " is refused: its pickle holds more than " +
                          std::to_string(limit) + " " + what +
                          ", far more than a weights file needs.");
    }
    [[noreturn]] void refuse_global(const std::string& qualified, const char* how) const {
        throw UnsupportedModelError(name_ + " is refused: it asks to " + how + " " +
                                    printable(qualified) +
                                    ", which a weights file never needs; nothing from it was run.");
    }
    [[noreturn]] void refuse_opcode(uint8_t op) const;

    // --- input ------------------------------------------------------------
    const uint8_t* take(uint64_t n) {
        if (n > d_.size() - pos_)
            damaged("ends in the middle of an instruction");
        const uint8_t* p = d_.data() + pos_;
        pos_ += n;
        return p;
    }
    uint64_t uint_le(int width) {
        const uint8_t* p = take(width);
        uint64_t v = 0;
        for (int k = width - 1; k >= 0; --k)
            v = (v << 8) | p[k];
        return v;
    }
    std::string_view line() {
        const size_t start = pos_;
        while (pos_ < d_.size() && d_[pos_] != '\n') {
            if (pos_ - start > kMaxGlobalName)
                damaged("names a global longer than " + std::to_string(kMaxGlobalName) +
                        " characters");
            ++pos_;
        }
        if (pos_ >= d_.size())
            damaged("ends in the middle of a global's name");
        std::string_view out(reinterpret_cast<const char*>(d_.data()) + start, pos_ - start);
        ++pos_; // the newline
        return out;
    }

    // --- arena and stack ---------------------------------------------------
    uint32_t make(Kind kind) {
        if (objects_.size() >= kMaxObjects)
            too_big("values", kMaxObjects);
        objects_.emplace_back();
        objects_.back().kind = kind;
        return static_cast<uint32_t>(objects_.size() - 1);
    }
    Obj& at(uint32_t id) { return objects_[id]; }
    void push(uint32_t id) {
        if (stack_.size() >= kMaxStack)
            too_big("values on its stack", kMaxStack);
        stack_.push_back(id);
    }
    uint32_t pop() {
        if (stack_.size() <= floor())
            damaged("takes a value from an empty stack");
        const uint32_t id = stack_.back();
        stack_.pop_back();
        return id;
    }
    uint32_t top() {
        if (stack_.size() <= floor())
            damaged("uses a value from an empty stack");
        return stack_.back();
    }
    /// Values above the innermost mark may be used; below it they belong
    /// to an enclosing instruction.
    size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
    /// Pops everything above the innermost mark, and the mark.
    std::vector<uint32_t> pop_mark() {
        if (marks_.empty())
            damaged("closes a mark it never opened");
        const size_t m = marks_.back();
        marks_.pop_back();
        std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
        stack_.resize(m);
        return items;
    }
    void count_items(size_t n) {
        if (n > kMaxContainerItems - items_)
            too_big("container entries", kMaxContainerItems);
        items_ += n;
    }
    uint32_t make_seq(Kind kind, std::vector<uint32_t> items) {
        count_items(items.size());
        const uint32_t id = make(kind);
        at(id).items = std::move(items);
        return id;
    }
    uint32_t make_string(Kind kind, uint64_t len) {
        if (len > kMaxStringBytes)
            too_big("bytes in one string", kMaxStringBytes);
        const uint8_t* p = take(len);
        const uint32_t id = make(kind);
        at(id).s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
        return id;
    }
    uint32_t make_int(int64_t v) {
        const uint32_t id = make(Kind::Int);
        at(id).i = v;
        return id;
    }

    // --- containers ---------------------------------------------------------
    /// The dict key form of a hashable value; nullopt for others (they are
    /// kept, never merged).
    std::optional<std::string> hash_key(uint32_t id) {
        const Obj& o = at(id);
        switch (o.kind) {
        case Kind::Str:
            return "s" + o.s;
        case Kind::Bytes:
            return "b" + o.s;
        case Kind::Int:
        case Kind::Bool:
            return "i" + std::to_string(o.i); // True == 1
        case Kind::None:
            return std::string("n");
        default:
            return std::nullopt;
        }
    }
    void dict_set(uint32_t dict, uint32_t key, uint32_t value) {
        if (at(dict).kind != Kind::Dict)
            damaged(std::string("stores a key in ") + kind_name(at(dict).kind) + ", not a dict");
        // Every store counts (overwrites too), and keys are short: a memoised
        // 16 MiB string stored again and again must not cost hours.
        count_items(2);
        {
            const Obj& k = at(key);
            if ((k.kind == Kind::Str || k.kind == Kind::Bytes) && k.s.size() > kMaxKeyLength)
                too_big("bytes in one dict key", kMaxKeyLength);
        }
        const auto hk = hash_key(key);
        Obj& d = at(dict);
        if (hk) {
            if (!d.index)
                d.index = std::make_unique<std::unordered_map<std::string, uint32_t>>();
            const auto [it, fresh] =
                d.index->emplace(*hk, static_cast<uint32_t>(d.items.size() / 2));
            if (!fresh) {
                d.items[2 * it->second + 1] = value;
                return;
            }
        }
        d.items.push_back(key);
        d.items.push_back(value);
    }
    /// The value of the string key `key` in dict `dict`, if any.
    std::optional<uint32_t> dict_get(uint32_t dict, const std::string& key) {
        const Obj& d = at(dict);
        if (!d.index)
            return std::nullopt;
        auto it = d.index->find("s" + key);
        if (it == d.index->end())
            return std::nullopt;
        return d.items[2 * it->second + 1];
    }

    // --- the allow-list ---------------------------------------------------------
    uint32_t resolve_global(std::string_view module, std::string_view name);
    uint32_t call(uint32_t callable, uint32_t args, bool newobj);
    uint32_t rebuild_tensor(const std::vector<uint32_t>& args);
    uint32_t persistent_load(uint32_t pid);
    bool get_int(uint32_t id, int64_t& out) {
        const Obj& o = at(id);
        if (o.kind != Kind::Int && o.kind != Kind::Bool)
            return false;
        out = o.i;
        return true;
    }
    std::vector<int64_t> int_tuple(uint32_t id, const char* what);

    // --- the result ---------------------------------------------------------------
    void flatten(uint32_t dict, const std::string& prefix, size_t depth, TorchPickle& out);

    std::span<const uint8_t> d_;
    const std::string& name_;
    size_t pos_ = 0;
    size_t op_pos_ = 0;
    std::vector<Obj> objects_;
    std::vector<uint32_t> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint64_t, uint32_t> memo_;
    std::vector<StorageRecord> storages_;
    std::map<std::string, size_t> storage_by_key_;
    std::vector<TorchTensorRef> tensors_;
    size_t items_ = 0;
    size_t visited_ = 0;
    size_t key_bytes_ = 0;
    uint32_t none_ = 0, true_ = 0, false_ = 0;
};

void Unpickler::refuse_opcode(uint8_t op) const {
    static const std::pair<uint8_t, const char*> known[] = {{'I', "INT"},
                                                            {'L', "LONG"},
                                                            {'S', "STRING"},
                                                            {'T', "BINSTRING"},
                                                            {'U', "SHORT_BINSTRING"},
                                                            {'V', "UNICODE"},
                                                            {'F', "FLOAT"},
                                                            {'P', "PERSID"},
                                                            {'i', "INST"},
                                                            {'o', "OBJ"},
                                                            {'g', "GET"},
                                                            {'p', "PUT"},
                                                            {0x82, "EXT1"},
                                                            {0x83, "EXT2"},
                                                            {0x84, "EXT4"},
                                                            {0x92, "NEWOBJ_EX"},
                                                            {0x96, "BYTEARRAY8"},
                                                            {0x97, "NEXT_BUFFER"},
                                                            {0x98, "READONLY_BUFFER"}};
    const char* opname = "an unknown opcode";
    for (const auto& [code, n] : known)
        if (code == op)
            opname = n;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    throw UnsupportedModelError(name_ + " is refused: its pickle uses " + opname + " (" + hex +
                                ") at byte " + std::to_string(op_pos_) +
                                ", which a weights file never needs; nothing from it was run.");
}

uint32_t Unpickler::resolve_global(std::string_view module, std::string_view name) {
    const std::string qualified = std::string(module) + "." + std::string(name);
    static const std::pair<const char*, Callable> callables[] = {
        {"collections.OrderedDict", Callable::OrderedDict},
        {"torch._utils._rebuild_tensor_v2", Callable::RebuildTensorV2},
        {"torch._utils._rebuild_parameter", Callable::RebuildParameter},
        {"torch._utils._rebuild_parameter_with_state", Callable::RebuildParameterWithState}};
    static const std::pair<const char*, TorchDtype> storages[] = {
        {"torch.DoubleStorage", TorchDtype::F64}, {"torch.FloatStorage", TorchDtype::F32},
        {"torch.HalfStorage", TorchDtype::F16},   {"torch.BFloat16Storage", TorchDtype::BF16},
        {"torch.LongStorage", TorchDtype::I64},   {"torch.IntStorage", TorchDtype::I32},
        {"torch.ShortStorage", TorchDtype::I16},  {"torch.CharStorage", TorchDtype::I8},
        {"torch.ByteStorage", TorchDtype::U8},    {"torch.BoolStorage", TorchDtype::BOOL}};
    for (const auto& [n, c] : callables) {
        if (qualified == n) {
            const uint32_t id = make(Kind::Global);
            at(id).callable = c;
            at(id).s = qualified;
            return id;
        }
    }
    for (const auto& [n, dt] : storages) {
        if (qualified == n) {
            const uint32_t id = make(Kind::Global);
            at(id).callable = Callable::StorageType;
            at(id).dtype = dt;
            at(id).s = qualified;
            return id;
        }
    }
    refuse_global(qualified, "call");
}

std::vector<int64_t> Unpickler::int_tuple(uint32_t id, const char* what) {
    const Obj& o = at(id);
    if (o.kind != Kind::Tuple && o.kind != Kind::List)
        damaged(std::string("gives a tensor ") + what + " that is " + kind_name(o.kind) +
                ", not a tuple");
    if (o.items.size() > kMaxRank)
        damaged(std::string("gives a tensor ") + what + " of " + std::to_string(o.items.size()) +
                " dimensions (at most " + std::to_string(kMaxRank) + ")");
    std::vector<int64_t> out;
    for (uint32_t item : o.items) {
        int64_t v = 0;
        if (!get_int(item, v) || v < 0)
            damaged(std::string("gives a tensor ") + what + " with an entry that is not a " +
                    "non-negative integer");
        out.push_back(v);
    }
    return out;
}

uint32_t Unpickler::rebuild_tensor(const std::vector<uint32_t>& args) {
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
    //                    backward_hooks[, metadata])
    if (args.size() != 6 && args.size() != 7)
        damaged("calls torch._utils._rebuild_tensor_v2 with " + std::to_string(args.size()) +
                " arguments, not 6 or 7");
    const Obj& storage = at(args[0]);
    if (storage.kind != Kind::Storage)
        damaged(std::string("rebuilds a tensor from ") + kind_name(storage.kind) +
                ", not a storage");
    TorchTensorRef t;
    const StorageRecord& rec = storages_[static_cast<size_t>(storage.i)];
    t.dtype = rec.dtype;
    t.storage_key = rec.key;
    if (!get_int(args[1], t.storage_offset) || t.storage_offset < 0)
        damaged("gives a tensor a storage offset that is not a non-negative integer");
    t.shape = int_tuple(args[2], "shape");
    t.strides = int_tuple(args[3], "stride");
    if (t.shape.size() != t.strides.size())
        damaged("gives a tensor " + std::to_string(t.shape.size()) + " dimensions but " +
                std::to_string(t.strides.size()) + " strides");
    if (tensors_.size() >= kMaxTensors)
        too_big("tensors", kMaxTensors);
    tensors_.push_back(std::move(t));
    const uint32_t id = make(Kind::Tensor);
    at(id).i = static_cast<int64_t>(tensors_.size() - 1);
    return id;
}

uint32_t Unpickler::call(uint32_t callable, uint32_t args_id, bool newobj) {
    const Obj& c = at(callable);
    if (c.kind != Kind::Global)
        damaged(std::string("calls ") + kind_name(c.kind));
    if (at(args_id).kind != Kind::Tuple)
        damaged(std::string("calls ") + printable(c.s) + " with " + kind_name(at(args_id).kind) +
                " as its arguments");
    const Callable what = c.callable;
    const std::string qualified = c.s;
    const std::vector<uint32_t> args = at(args_id).items; // copy: the arena may grow
    if (newobj && what != Callable::OrderedDict)
        refuse_global(qualified, "create an object of");
    switch (what) {
    case Callable::OrderedDict: {
        const uint32_t dict = make(Kind::Dict);
        if (args.empty())
            return dict;
        if (args.size() != 1 || (at(args[0]).kind != Kind::List && at(args[0]).kind != Kind::Tuple))
            damaged("calls collections.OrderedDict with arguments other than a list of pairs");
        const std::vector<uint32_t> pairs = at(args[0]).items;
        for (uint32_t pair : pairs) {
            if (at(pair).kind != Kind::Tuple || at(pair).items.size() != 2)
                damaged("calls collections.OrderedDict with an entry that is not a pair");
            const uint32_t k = at(pair).items[0], v = at(pair).items[1];
            dict_set(dict, k, v);
        }
        return dict;
    }
    case Callable::RebuildTensorV2:
        return rebuild_tensor(args);
    case Callable::RebuildParameter:
    case Callable::RebuildParameterWithState: {
        // (data, requires_grad, backward_hooks[, state]): the tensor itself.
        const size_t want = what == Callable::RebuildParameter ? 3 : 4;
        if (args.size() != want || at(args[0]).kind != Kind::Tensor)
            damaged("calls " + qualified + " with arguments other than a tensor and " +
                    std::to_string(want - 1) + " more");
        return args[0];
    }
    case Callable::StorageType:
        refuse_global(qualified, "construct");
    }
    damaged("calls an unknown function");
}

uint32_t Unpickler::persistent_load(uint32_t pid) {
    // ('storage', storage_type, key, location, numel)
    const Obj& t = at(pid);
    if (t.kind != Kind::Tuple || t.items.size() != 5)
        damaged("has a persistent id that is not a 5-tuple ('storage', type, key, location, "
                "size)");
    const Obj& tag = at(t.items[0]);
    const Obj& type = at(t.items[1]);
    const Obj& key = at(t.items[2]);
    const Obj& location = at(t.items[3]);
    int64_t numel = 0;
    if (tag.kind != Kind::Str || tag.s != "storage")
        damaged("has a persistent id that is not a storage");
    if (type.kind != Kind::Global || type.callable != Callable::StorageType)
        damaged("has a storage whose type is not a torch storage type");
    if (key.kind != Kind::Str || key.s.empty() || key.s.size() > 256)
        damaged("has a storage whose key is not a short string");
    if (location.kind != Kind::Str)
        damaged("has a storage whose location is not a string");
    if (!get_int(t.items[4], numel) || numel < 0)
        damaged("has a storage whose size is not a non-negative integer");
    size_t index = 0;
    const auto it = storage_by_key_.find(key.s);
    if (it != storage_by_key_.end()) {
        index = it->second;
        if (storages_[index].dtype != type.dtype || storages_[index].numel != numel)
            damaged("describes storage '" + printable(key.s) + "' twice, differently");
    } else {
        index = storages_.size();
        storages_.push_back({key.s, type.dtype, numel});
        storage_by_key_.emplace(key.s, index);
    }
    const uint32_t id = make(Kind::Storage);
    at(id).i = static_cast<int64_t>(index);
    return id;
}

void Unpickler::flatten(uint32_t dict, const std::string& prefix, size_t depth, TorchPickle& out) {
    if (depth > kMaxDictDepth)
        throw FormatError(name_ + " is refused: its dictionaries nest deeper than " +
                          std::to_string(kMaxDictDepth) +
                          " levels, which a weights file "
                          "never needs.");
    const std::vector<uint32_t>& items = at(dict).items;
    for (size_t n = 0; n + 1 < items.size(); n += 2) {
        if (++visited_ > kMaxVisited)
            too_big("dictionary entries (counting shared ones each time)", kMaxVisited);
        const Obj& k = at(items[n]);
        const Obj& v = at(items[n + 1]);
        if (k.kind != Kind::Str || (v.kind != Kind::Tensor && v.kind != Kind::Dict))
            continue; // not a weight: epoch, step counters, optimizer lists...
        const std::string key = prefix + k.s;
        if (key.size() > kMaxKeyLength)
            throw FormatError(name_ + " is refused: it has a tensor name longer than " +
                              std::to_string(kMaxKeyLength) + " characters.");
        if (v.kind == Kind::Dict) {
            flatten(items[n + 1], key + ".", depth + 1, out);
            continue;
        }
        const TorchTensorRef& t = tensors_[static_cast<size_t>(v.i)];
        if (out.tensors.size() >= kMaxTensors)
            too_big("tensors (counting shared ones each time)", kMaxTensors);
        key_bytes_ += key.size();
        if (key_bytes_ > kMaxKeyBytes)
            too_big("bytes of tensor names", kMaxKeyBytes);
        if (!out.tensors.emplace(key, t).second)
            throw FormatError(name_ + " is damaged: it has two tensors named '" + printable(key) +
                              "'.");
        const StorageRecord& s = storages_[storage_by_key_.at(t.storage_key)];
        out.storages[s.key] = TorchStorageRef{s.dtype, s.numel};
    }
}

TorchPickle Unpickler::run() {
    if (d_.size() > kMaxPickleBytes)
        throw FormatError(name_ + " is refused: its pickle (data.pkl) is larger than " +
                          std::to_string(kMaxPickleBytes >> 20) +
                          " MiB, far more than a weights file needs.");
    std::optional<uint32_t> result;
    while (!result) {
        op_pos_ = pos_;
        if (pos_ >= d_.size())
            damaged("ends without a STOP instruction");
        const uint8_t op = d_[pos_++];
        switch (op) {
        case 0x80: { // PROTO
            const uint8_t proto = *take(1);
            if (proto > 5)
                damaged("uses pickle protocol " + std::to_string(proto) + " (at most 5 exists)");
            break;
        }
        case 0x95: // FRAME: a length hint; the opcodes follow inline
            uint_le(8);
            break;
        case '.': // STOP
            result = pop();
            break;
        case 'N':
            push(none_);
            break;
        case 0x88:
            push(true_);
            break; // NEWTRUE
        case 0x89:
            push(false_);
            break; // NEWFALSE
        case 'J':
            push(make_int(static_cast<int32_t>(uint_le(4))));
            break; // BININT
        case 'K':
            push(make_int(static_cast<int64_t>(uint_le(1))));
            break; // BININT1
        case 'M':
            push(make_int(static_cast<int64_t>(uint_le(2))));
            break;   // BININT2
        case 0x8a:   // LONG1
        case 0x8b: { // LONG4
            const uint64_t n = uint_le(op == 0x8a ? 1 : 4);
            if (n > 8)
                damaged("has an integer of " + std::to_string(n) + " bytes (at most 8 fit)");
            const uint8_t* p = take(n);
            uint64_t v = 0;
            for (uint64_t k = n; k-- > 0;)
                v = (v << 8) | p[k];
            if (n > 0 && n < 8 && (p[n - 1] & 0x80))
                v |= ~uint64_t{0} << (8 * n); // sign-extend
            push(make_int(static_cast<int64_t>(v)));
            break;
        }
        case 'G': { // BINFLOAT, big-endian
            const uint8_t* p = take(8);
            uint64_t bits = 0;
            for (int k = 0; k < 8; ++k)
                bits = (bits << 8) | p[k];
            double v;
            std::memcpy(&v, &bits, sizeof v);
            const uint32_t id = make(Kind::Float);
            at(id).f = v;
            push(id);
            break;
        }
        case 'X':
            push(make_string(Kind::Str, uint_le(4)));
            break; // BINUNICODE
        case 0x8c:
            push(make_string(Kind::Str, uint_le(1)));
            break; // SHORT_BINUNICODE
        case 0x8d:
            push(make_string(Kind::Str, uint_le(8)));
            break; // BINUNICODE8
        case 'B':
            push(make_string(Kind::Bytes, uint_le(4)));
            break; // BINBYTES
        case 'C':
            push(make_string(Kind::Bytes, uint_le(1)));
            break; // SHORT_BINBYTES
        case 0x8e:
            push(make_string(Kind::Bytes, uint_le(8)));
            break; // BINBYTES8
        case '}':
            push(make(Kind::Dict));
            break; // EMPTY_DICT
        case ']':
            push(make(Kind::List));
            break; // EMPTY_LIST
        case ')':
            push(make(Kind::Tuple));
            break; // EMPTY_TUPLE
        case 0x8f:
            push(make(Kind::Set));
            break; // EMPTY_SET
        case '(':  // MARK
            if (marks_.size() >= kMaxMarks)
                too_big("nested marks", kMaxMarks);
            marks_.push_back(stack_.size());
            break;
        case 't':
            push(make_seq(Kind::Tuple, pop_mark()));
            break; // TUPLE
        case 'l':
            push(make_seq(Kind::List, pop_mark()));
            break; // LIST
        case 0x91:
            push(make_seq(Kind::Set, pop_mark()));
            break; // FROZENSET
        case 0x85:
        case 0x86:
        case 0x87: { // TUPLE1..3
            const size_t n = static_cast<size_t>(op - 0x84);
            std::vector<uint32_t> items(n);
            for (size_t k = n; k-- > 0;)
                items[k] = pop();
            push(make_seq(Kind::Tuple, std::move(items)));
            break;
        }
        case 'd': { // DICT
            const std::vector<uint32_t> items = pop_mark();
            if (items.size() % 2)
                damaged("builds a dict from an odd number of values");
            const uint32_t dict = make(Kind::Dict);
            for (size_t k = 0; k < items.size(); k += 2)
                dict_set(dict, items[k], items[k + 1]);
            push(dict);
            break;
        }
        case 'a': { // APPEND
            const uint32_t v = pop();
            const uint32_t list = top();
            if (at(list).kind != Kind::List)
                damaged(std::string("appends to ") + kind_name(at(list).kind) + ", not a list");
            count_items(1);
            at(list).items.push_back(v);
            break;
        }
        case 'e':    // APPENDS
        case 0x90: { // ADDITEMS
            const std::vector<uint32_t> items = pop_mark();
            const uint32_t target = top();
            const Kind want = op == 'e' ? Kind::List : Kind::Set;
            if (at(target).kind != want)
                damaged(std::string("adds items to ") + kind_name(at(target).kind) + ", not " +
                        kind_name(want));
            count_items(items.size());
            at(target).items.insert(at(target).items.end(), items.begin(), items.end());
            break;
        }
        case 's': { // SETITEM
            const uint32_t v = pop();
            const uint32_t k = pop();
            dict_set(top(), k, v);
            break;
        }
        case 'u': { // SETITEMS
            const std::vector<uint32_t> items = pop_mark();
            if (items.size() % 2)
                damaged("sets dict items from an odd number of values");
            const uint32_t dict = top();
            for (size_t k = 0; k < items.size(); k += 2)
                dict_set(dict, items[k], items[k + 1]);
            break;
        }
        case '0':
            pop();
            break; // POP
        case '1':
            pop_mark();
            break; // POP_MARK
        case '2':
            push(top());
            break; // DUP
        case 'q':
        case 'r':
        case 0x94: { // BINPUT, LONG_BINPUT, MEMOIZE
            const uint64_t index = op == 'q' ? uint_le(1) : op == 'r' ? uint_le(4) : memo_.size();
            const uint32_t v = top();
            if (memo_.size() >= kMaxMemo && !memo_.count(index))
                too_big("memo entries", kMaxMemo);
            memo_[index] = v;
            break;
        }
        case 'h':
        case 'j': { // BINGET, LONG_BINGET
            const uint64_t index = uint_le(op == 'h' ? 1 : 4);
            const auto it = memo_.find(index);
            if (it == memo_.end())
                damaged("recalls memo entry " + std::to_string(index) + ", which was never stored");
            push(it->second);
            break;
        }
        case 'c': { // GLOBAL
            const std::string module(line());
            const std::string name(line());
            push(resolve_global(module, name));
            break;
        }
        case 0x93: { // STACK_GLOBAL
            const uint32_t n = pop();
            const uint32_t m = pop();
            if (at(n).kind != Kind::Str || at(m).kind != Kind::Str)
                damaged("names a global with values that are not strings");
            if (at(n).s.size() > kMaxGlobalName || at(m).s.size() > kMaxGlobalName)
                damaged("names a global longer than " + std::to_string(kMaxGlobalName) +
                        " characters");
            const std::string module = at(m).s, name = at(n).s;
            push(resolve_global(module, name));
            break;
        }
        case 'R':    // REDUCE
        case 0x81: { // NEWOBJ
            const uint32_t args = pop();
            const uint32_t callable = pop();
            push(call(callable, args, op == 0x81));
            break;
        }
        case 'b': { // BUILD
            const uint32_t state = pop();
            const uint32_t target = top();
            // An OrderedDict's attributes (a state_dict's _metadata) are
            // set this way; they are not weights, so they are dropped.
            if (at(target).kind != Kind::Dict)
                throw UnsupportedModelError(
                    name_ + " is refused: its pickle sets the state of " +
                    kind_name(at(target).kind) + " (BUILD at byte " + std::to_string(op_pos_) +
                    "), which a weights file never needs; nothing from it was run.");
            const Kind sk = at(state).kind;
            if (sk != Kind::Dict && sk != Kind::Tuple && sk != Kind::None)
                damaged(std::string("sets a dict's attributes from ") + kind_name(sk));
            break;
        }
        case 'Q':
            push(persistent_load(pop()));
            break; // BINPERSID
        default:
            refuse_opcode(op);
        }
    }

    TorchPickle out;
    const uint32_t root = *result;
    if (at(root).kind != Kind::Dict)
        throw FormatError(name_ + " holds " + kind_name(at(root).kind) +
                          ", not a dictionary of tensors.");
    uint32_t weights = root;
    for (const char* wrapper : {"params_ema", "params", "state_dict"}) {
        const auto inner = dict_get(root, wrapper);
        if (inner && at(*inner).kind == Kind::Dict) {
            weights = *inner;
            out.wrapper = wrapper;
            break;
        }
    }
    flatten(weights, "", 0, out);
    return out;
}

} // namespace

TorchPickle read_torch_pickle(std::span<const uint8_t> pickle, const std::string& name) {
    return Unpickler(pickle, name).run();
}

} // namespace daub
