// Evaluation protocols: weighted k-NN.
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

// knn(trainFeatures, trainLabels, testFeatures, testLabels, { ks, temperature, numClasses, chunkSize })
//   -> Promise<Array<{ k, top1, top5 }>>
Napi::Value Knn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto train_features = Tensor::From(env, info[0], "knn: trainFeatures");
    auto train_labels = Tensor::From(env, info[1], "knn: trainLabels");
    auto test_features = Tensor::From(env, info[2], "knn: testFeatures");
    auto test_labels = Tensor::From(env, info[3], "knn: testLabels");
    Napi::Object o = ObjectArg(info, 4, "knn options");
    eval::KnnOptions options;
    options.ks.clear();
    Napi::Value ks = Field(o, "ks");
    if (!ks.IsArray()) throw Napi::TypeError::New(env, "option `ks` must be an array of integers");
    for (uint32_t i = 0; i < ks.As<Napi::Array>().Length(); ++i)
      options.ks.push_back(ks.As<Napi::Array>().Get(i).As<Napi::Number>().Int64Value());
    options.temperature = NumberField(o, "temperature");
    options.num_classes = IntField(o, "numClasses");
    options.chunk_size = IntField(o, "chunkSize");
    return RunAsync(env, [=]() -> Finish {
             auto results = eval::WeightedKnn(train_features, train_labels, test_features, test_labels, options);
             return [results](Napi::Env env) -> Napi::Value {
               Napi::Array out = Napi::Array::New(env, results.size());
               for (size_t i = 0; i < results.size(); ++i) {
                 Napi::Object r = Napi::Object::New(env);
                 r.Set("k", static_cast<double>(results[i].k));
                 r.Set("top1", results[i].top1);
                 r.Set("top5", results[i].top5);
                 out.Set(i, r);
               }
               return out;
             };
           })
        .As<Napi::Value>();
  });
}

// linearProbe(trainFeatures, trainLabels, testFeatures, testLabels,
//             { lrs, epochs, batchSize, momentum, weightDecay, numClasses, seed }) -> Promise<Array<{ lr, top1, top5 }>>
Napi::Value LinearProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&] {
    auto train_features = Tensor::From(env, info[0], "linearProbe: trainFeatures");
    auto train_labels = Tensor::From(env, info[1], "linearProbe: trainLabels");
    auto test_features = Tensor::From(env, info[2], "linearProbe: testFeatures");
    auto test_labels = Tensor::From(env, info[3], "linearProbe: testLabels");
    Napi::Object o = ObjectArg(info, 4, "linear probe options");
    eval::LinearProbeOptions options;
    options.lrs.clear();
    Napi::Value lrs = Field(o, "lrs");
    if (!lrs.IsArray()) throw Napi::TypeError::New(env, "option `lrs` must be an array of numbers");
    for (uint32_t i = 0; i < lrs.As<Napi::Array>().Length(); ++i)
      options.lrs.push_back(lrs.As<Napi::Array>().Get(i).As<Napi::Number>().DoubleValue());
    options.epochs = IntField(o, "epochs");
    options.batch_size = IntField(o, "batchSize");
    options.momentum = NumberField(o, "momentum");
    options.weight_decay = NumberField(o, "weightDecay");
    options.num_classes = IntField(o, "numClasses");
    options.seed = static_cast<uint64_t>(IntField(o, "seed"));
    return RunAsync(env, [=]() -> Finish {
             auto results = eval::LinearProbe(train_features, train_labels, test_features, test_labels, options);
             return [results](Napi::Env env) -> Napi::Value {
               Napi::Array out = Napi::Array::New(env, results.size());
               for (size_t i = 0; i < results.size(); ++i) {
                 Napi::Object r = Napi::Object::New(env);
                 r.Set("lr", results[i].lr);
                 r.Set("top1", results[i].top1);
                 r.Set("top5", results[i].top5);
                 out.Set(i, r);
               }
               return out;
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
