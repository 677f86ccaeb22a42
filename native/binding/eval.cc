// Evaluation protocols on features: weighted k-NN and the linear probe.
#include <napi.h>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/errors.h"
#include "binding/options.h"
#include "binding/tensor.h"
#include "eval/knn.h"
#include "eval/linear_probe.h"

namespace sere::binding {
namespace {

// The four tensors both protocols take first: train features and labels, test features and labels.
struct FeatureSets {
  at::Tensor train_features, train_labels, test_features, test_labels;
};

FeatureSets FeatureSetsFrom(const Napi::CallbackInfo& info, const std::string& what) {
  return {AsTensor(info[0], what + ": trainFeatures"), AsTensor(info[1], what + ": trainLabels"),
          AsTensor(info[2], what + ": testFeatures"), AsTensor(info[3], what + ": testLabels")};
}

// Rows of { key: value } objects for a promise's result.
template <class Row, class Fill>
Napi::Value Rows(Napi::Env env, const std::vector<Row>& rows, Fill fill) {
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    Napi::Object r = Napi::Object::New(env);
    fill(r, rows[i]);
    out.Set(i, r);
  }
  return out;
}

// knn(trainFeatures, trainLabels, testFeatures, testLabels, { ks, temperature, numClasses, chunkSize })
//   -> Promise<Array<{ k, top1, top5 }>>
Napi::Value Knn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto sets = FeatureSetsFrom(info, "knn");
    Napi::Object o = ObjectArg(info, 4, "knn options");
    eval::KnnOptions options;
    options.ks = NumbersField<int64_t>(o, "ks");
    options.temperature = NumberField(o, "temperature");
    options.num_classes = IntField(o, "numClasses");
    options.chunk_size = IntField(o, "chunkSize");
    return RunAsync(env,
                    [=]() -> Finish {
                      auto results = eval::WeightedKnn(sets.train_features, sets.train_labels, sets.test_features,
                                                       sets.test_labels, options);
                      return [results](Napi::Env env) {
                        return Rows(env, results, [](Napi::Object& r, const eval::KnnAccuracy& a) {
                          r.Set("k", static_cast<double>(a.k));
                          r.Set("top1", a.top1);
                          r.Set("top5", a.top5);
                        });
                      };
                    })
        .As<Napi::Value>();
  });
}

// The optional `control` of the linear probe: an Int32Array(2) on a SharedArrayBuffer that
// the caller keeps alive until the promise settles. JS sets [0] to non-zero to stop the
// probe; the probe writes the epochs done into [1]. Read and written atomically, from
// the worker thread.
std::function<bool(int64_t)> ProbeControl(const Napi::Object& o) {
  Napi::Value v = o.Get("control");
  if (v.IsUndefined()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      v.As<Napi::Int32Array>().ElementLength() < 2)
    throw Napi::TypeError::New(o.Env(), "option `control` must be an Int32Array of 2 elements");
  int32_t* cells = v.As<Napi::Int32Array>().Data();
  return [cells](int64_t epochs_done) {
    __atomic_store_n(cells + 1, static_cast<int32_t>(epochs_done), __ATOMIC_RELAXED);
    return __atomic_load_n(cells, __ATOMIC_RELAXED) == 0;
  };
}

// linearProbe(trainFeatures, trainLabels, testFeatures, testLabels,
//             { lrs, epochs, batchSize, momentum, weightDecay, numClasses, seed, control? }) -> Promise<Array<{ lr,
//             top1, top5 }>>
Napi::Value LinearProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto sets = FeatureSetsFrom(info, "linearProbe");
    Napi::Object o = ObjectArg(info, 4, "linear probe options");
    eval::LinearProbeOptions options;
    options.lrs = NumbersField<double>(o, "lrs");
    options.epochs = IntField(o, "epochs");
    options.batch_size = IntField(o, "batchSize");
    options.momentum = NumberField(o, "momentum");
    options.weight_decay = NumberField(o, "weightDecay");
    options.num_classes = IntField(o, "numClasses");
    options.seed = static_cast<uint64_t>(IntField(o, "seed"));
    options.keep_going = ProbeControl(o);
    return RunAsync(env,
                    [=]() -> Finish {
                      auto results = eval::LinearProbe(sets.train_features, sets.train_labels, sets.test_features,
                                                       sets.test_labels, options);
                      return [results](Napi::Env env) {
                        return Rows(env, results, [](Napi::Object& r, const eval::LinearProbeResult& a) {
                          r.Set("lr", a.lr);
                          r.Set("top1", a.top1);
                          r.Set("top5", a.top5);
                        });
                      };
                    })
        .As<Napi::Value>();
  });
}

}  // namespace

void RegisterEval(Napi::Env env, Napi::Object exports) {
  exports.Set("knn", Napi::Function::New(env, Knn, "knn"));
  exports.Set("linearProbe", Napi::Function::New(env, LinearProbe, "linearProbe"));
}

}  // namespace sere::binding
