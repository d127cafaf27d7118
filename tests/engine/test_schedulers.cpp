// The schedulers against diffusers: every schedule table of
// golden/schedulers.json (timesteps equal, sigmas within 1e-5 relative,
// order, init_noise_sigma), every golden/sched_<name>_<mode>_<steps>_<strength>
// sampling loop with the fake model eps = 0.5·scale_model_input(x, t) + 0.001·t
// (final within 1e-4 · max(1, max |final|)), the from_config rule against the
// pipelines' effective scheduler configs, and the factory's errors.
//
// How to add a case: drop a new sched_*.json / .safetensors pair (or a new
// name in schedulers.json) into the fixtures; the _data() functions list
// them from the folder.
#include "golden.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "schedulers/scheduler.h"
#include "schedulers/scheduler_factory.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

/// The class and constructor arguments of a schedulers.json entry, as one
/// scheduler_config.json would hold them.
json class_config(const json& entry) {
    json config = entry.at("config");
    config["_class_name"] = entry.at("class");
    return config;
}

std::string join(const std::vector<double>& v, size_t max = 8) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < max; ++i)
        s += (i ? ", " : "") + QString::number(v[i], 'g', 10).toStdString();
    if (v.size() > max)
        s += ", ...";
    return "[" + s + "]";
}

/// The loop of the fixtures README: x = start; for t in timesteps_run:
/// x = step(0.5 · scale_model_input(x, t) + 0.001 · t, t, x).
at::Tensor run_loop(daub::Scheduler& sched, at::Tensor x, const std::vector<double>& run,
                    const daub::DrawNoise& draw) {
    for (double t : run) {
        auto eps = sched.scale_model_input(x, t) * 0.5 + 0.001 * t;
        x = sched.step(eps, t, x, draw);
    }
    return x;
}

} // namespace

class TestSchedulers : public QObject {
    Q_OBJECT

    json tables_; ///< golden/schedulers.json

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
        tables_ = daub::read_scheduler_config(daub::test::fixture("golden/schedulers.json"));
        QVERIFY2(tables_.is_object() && !tables_.empty(), "golden/schedulers.json is empty");
    }

    // --- set_timesteps tables ------------------------------------------------

    void tables_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("steps");
        for (const auto& [name, entry] : tables_.items())
            for (const auto& [steps, _] : entry.at("steps").items())
                QTest::newRow((name + "/" + steps).c_str())
                    << QString::fromStdString(name) << QString::fromStdString(steps);
    }

    void tables() {
        QFETCH(QString, name);
        QFETCH(QString, steps);
        const json& entry = tables_.at(name.toStdString());
        const json& golden = entry.at("steps").at(steps.toStdString());
        auto sched = daub::make_scheduler_from_config(class_config(entry));
        sched->set_timesteps(steps.toInt());

        const auto expected = golden.at("timesteps").get<std::vector<double>>();
        const auto& actual = sched->timestep_values();
        QVERIFY2(actual == expected,
                 ("timesteps " + join(actual, 60) + " differ from " + join(expected, 60)).c_str());

        double max_rel = 0;
        if (golden.contains("sigmas")) {
            const auto expected_sigmas = golden.at("sigmas").get<std::vector<double>>();
            const auto sig = sched->sigmas();
            QVERIFY2(sig.defined(), "the scheduler has no sigmas but the golden has");
            QCOMPARE(static_cast<int>(sig.numel()), static_cast<int>(expected_sigmas.size()));
            auto s = sig.to(torch::kFloat64).contiguous();
            for (size_t i = 0; i < expected_sigmas.size(); ++i) {
                const double a = s.data_ptr<double>()[i], g = expected_sigmas[i];
                const double err = std::abs(a - g);
                QVERIFY2(err <= 1e-5 * std::abs(g),
                         qPrintable(QString("sigma %1: %2 vs golden %3").arg(i).arg(a, 0, 'g', 10)
                                        .arg(g, 0, 'g', 10)));
                if (g != 0)
                    max_rel = std::max(max_rel, err / std::abs(g));
            }
        } else {
            QVERIFY2(!sched->sigmas().defined(), "the scheduler has sigmas but the golden none");
        }
        QCOMPARE(sched->order(), golden.at("order").get<int>());
        const double ins = sched->init_noise_sigma(), g_ins = golden.at("init_noise_sigma");
        QVERIFY2(std::abs(ins - g_ins) <= 1e-5 * std::abs(g_ins),
                 qPrintable(QString("init_noise_sigma %1 vs golden %2").arg(ins, 0, 'g', 10)
                                .arg(g_ins, 0, 'g', 10)));
        qInfo("%s/%s: %zu timesteps equal, sigmas max rel err %.2e, init_noise_sigma rel err %.2e",
              qPrintable(name), qPrintable(steps), actual.size(), max_rel,
              std::abs(ins - g_ins) / std::abs(g_ins));
    }

    // --- effective configs (from_config) -------------------------------------

    void full_config_data() {
        QTest::addColumn<QString>("name");
        for (const auto& [name, _] : tables_.items())
            QTest::newRow(name.c_str()) << QString::fromStdString(name);
    }

    void full_config() {
        QFETCH(QString, name);
        const json& entry = tables_.at(name.toStdString());
        auto sched = daub::make_scheduler_from_config(class_config(entry));
        QCOMPARE(QString::fromStdString(sched->class_name()),
                 QString::fromStdString(entry.at("class").get<std::string>()));
        const json actual = sched->config().to_json();
        const json& expected = entry.at("full_config");
        QVERIFY2(actual == expected,
                 ("effective config\n" + actual.dump() + "\ndiffers from\n" + expected.dump())
                     .c_str());
    }

    /// Scheduler chosen by name on a model: the pipelines' effective configs.
    void config_by_name_data() {
        QTest::addColumn<QString>("pipe");
        for (const auto& e : std::filesystem::directory_iterator(daub::test::fixture("golden"))) {
            const auto file = e.path().filename().string();
            if (file.rfind("pipe_", 0) == 0 && e.path().extension() == ".json")
                QTest::newRow(file.c_str()) << QString::fromStdString(e.path().string());
        }
    }

    void config_by_name() {
        QFETCH(QString, pipe);
        const json golden = daub::read_scheduler_config(pipe.toStdString());
        const std::string model = golden.at("model");
        const json model_config = daub::read_scheduler_config(
            daub::test::fixture(model + "/scheduler/scheduler_config.json"));
        const json overrides = {{"clip_sample", false}, {"steps_offset", 1}};
        auto sched = daub::make_scheduler(golden.at("scheduler").get<std::string>(), model_config, overrides);
        QCOMPARE(QString::fromStdString(sched->class_name()),
                 QString::fromStdString(golden.at("scheduler_class").get<std::string>()));
        const json actual = sched->config().to_json();
        const json& expected = golden.at("scheduler_config");
        for (const auto& [key, value] : actual.items()) {
            QVERIFY2(expected.contains(key), ("golden config lacks " + key).c_str());
            QVERIFY2(expected.at(key) == value, (key + ": " + value.dump() + " vs golden " +
                                                 expected.at(key).dump())
                                                    .c_str());
        }
        // The model's own scheduler, by its _class_name.
        auto own = daub::make_scheduler_from_config(model_config, overrides);
        QCOMPARE(QString::fromStdString(own->class_name()),
                 QString::fromStdString(model_config.at("_class_name").get<std::string>()));
    }

    // --- whole sampling loops ------------------------------------------------

    void loops_data() {
        QTest::addColumn<QString>("stem");
        std::vector<std::string> stems;
        for (const auto& e : std::filesystem::directory_iterator(daub::test::fixture("golden"))) {
            const auto file = e.path().filename().string();
            if (file.rfind("sched_", 0) == 0 && e.path().extension() == ".json")
                stems.push_back(e.path().stem().string());
        }
        std::sort(stems.begin(), stems.end());
        QVERIFY2(!stems.empty(), "no golden/sched_*.json");
        for (const auto& stem : stems)
            QTest::newRow(stem.c_str()) << QString::fromStdString(stem);
    }

    void loops() {
        QFETCH(QString, stem);
        const std::string base = daub::test::fixture("golden/" + stem.toStdString());
        const json spec = daub::read_scheduler_config(base + ".json");
        daub::SafeTensorsFile g(base + ".safetensors");

        const std::string name = spec.at("scheduler");
        const std::string mode = spec.at("mode");
        const int steps = spec.at("steps");
        const double strength = spec.at("strength");
        const auto run = spec.at("timesteps_run").get<std::vector<double>>();

        auto sched = daub::make_scheduler_from_config(class_config(tables_.at(name)));
        sched->set_timesteps(steps);

        // img2img as the pipelines: int(steps · strength) steps kept, starting
        // at index (steps − kept) · order, where begin_index is set.
        size_t begin = 0;
        if (mode == "img2img") {
            const int kept = std::min(static_cast<int>(steps * strength), steps);
            begin = static_cast<size_t>(std::max(steps - kept, 0) * sched->order());
            sched->set_begin_index(static_cast<int>(begin));
        }
        const auto& all = sched->timestep_values();
        QVERIFY2(begin <= all.size(), "begin index past the schedule");
        const std::vector<double> mine(all.begin() + begin, all.end());
        QVERIFY2(mine == run, ("timesteps from index " + std::to_string(begin) + " " +
                               join(mine, 40) + " differ from timesteps_run " + join(run, 40))
                                  .c_str());

        const auto noise = g.load("noise");
        at::Tensor start;
        if (mode == "img2img")
            start = sched->add_noise(g.load("x0"), noise, run.front());
        else
            start = noise * sched->init_noise_sigma();
        DAUB_VERIFY_GOLDEN((stem.toStdString() + ".start").c_str(), start, g.load("start"));

        int draws = 0;
        const daub::DrawNoise draw = [&](at::IntArrayRef shape) {
            const auto key = "step_noise_" + std::to_string(draws++);
            if (!g.contains(key))
                throw std::runtime_error("the golden has no " + key);
            auto n = g.load(key);
            if (n.sizes() != shape)
                throw std::runtime_error(key + " has another shape than the draw");
            return n;
        };
        const auto final = run_loop(*sched, g.load("start"), run, draw);
        QCOMPARE(draws, spec.at("step_noise_draws").get<int>());
        DAUB_VERIFY_GOLDEN((stem.toStdString() + ".final").c_str(), final, g.load("final"));

        // set_timesteps resets every per-generation state: a second run on
        // the same scheduler gives the same result.
        sched->set_timesteps(steps);
        if (mode == "img2img")
            sched->set_begin_index(static_cast<int>(begin));
        draws = 0;
        const auto again = run_loop(*sched, g.load("start"), run, draw);
        QVERIFY2(torch::equal(again, final), "a second run after set_timesteps differs");
    }

    // --- factory -------------------------------------------------------------

    void names_and_classes() {
        const std::vector<std::string> expected = {"pndm", "ddim", "euler", "euler_a",
                                                   "dpmpp_2m", "dpmpp_2m_karras", "lms", "heun"};
        QVERIFY(daub::scheduler_names() == expected);
        for (const auto& name : daub::scheduler_names()) {
            const auto cls = daub::scheduler_class_for_name(name);
            QCOMPARE(QString::fromStdString(
                         daub::scheduler_name_for_class(cls, name == "dpmpp_2m_karras").value_or("")),
                     QString::fromStdString(name));
            QCOMPARE(QString::fromStdString(cls),
                     QString::fromStdString(tables_.at(name).at("class").get<std::string>()));
            // By name on the SD 1.5 model config: the class, and what the name fixes.
            auto sched = daub::make_scheduler(name, tables_.at("pndm").at("config"));
            QCOMPARE(QString::fromStdString(sched->class_name()), QString::fromStdString(cls));
            if (cls == "DPMSolverMultistepScheduler") {
                QCOMPARE(QString::fromStdString(sched->config().algorithm_type), QString("dpmsolver++"));
                QCOMPARE(sched->config().solver_order, 2);
                QCOMPARE(sched->config().use_karras_sigmas, name == "dpmpp_2m_karras");
            }
        }
        QVERIFY(!daub::scheduler_name_for_class("UniPCMultistepScheduler").has_value());
    }

    void errors() {
        try {
            daub::make_scheduler_from_config({{"_class_name", "UniPCMultistepScheduler"}});
            QFAIL("an unknown class was accepted");
        } catch (const daub::ModelError& e) {
            qInfo("%s", e.what());
            QVERIFY(std::string(e.what()).find("UniPCMultistepScheduler") != std::string::npos);
        }
        QVERIFY_THROWS_EXCEPTION(daub::ModelError, daub::make_scheduler_from_config(json::object()));
        QVERIFY_THROWS_EXCEPTION(daub::RequestError, daub::make_scheduler("dpm_fast", json::object()));
        QVERIFY_THROWS_EXCEPTION(
            daub::ModelError,
            daub::make_scheduler("euler", {{"beta_schedule", "exotic"}}));
        QVERIFY_THROWS_EXCEPTION(daub::ModelError,
                                 daub::make_scheduler("euler", {{"steps_offset", "one"}}));
        QVERIFY_THROWS_EXCEPTION(daub::ModelError,
                                 daub::make_scheduler("ddim", {{"prediction_type", "flow"}}));
        auto sched = daub::make_scheduler("ddim", json::object());
        QVERIFY_THROWS_EXCEPTION(daub::RequestError, sched->set_timesteps(0));
        QVERIFY_THROWS_EXCEPTION(daub::RequestError, sched->set_timesteps(1001));
    }

    void config_rules() {
        // Keys listed in _use_default_values take the new class's default.
        const json model = {{"_class_name", "PNDMScheduler"},
                            {"timestep_spacing", "leading"},
                            {"steps_offset", 1},
                            {"_use_default_values", {"timestep_spacing"}}};
        QCOMPARE(QString::fromStdString(daub::scheduler_config_for_name("euler_a", model).timestep_spacing),
                 QString("linspace"));
        QCOMPARE(daub::scheduler_config_for_name("euler_a", model).steps_offset, 1);
        // Overrides win; keys the class does not take stay out of its config.
        auto c = daub::scheduler_config_for_name("ddim", model, {{"clip_sample", false}});
        QCOMPARE(c.clip_sample, false);
        QVERIFY(!daub::scheduler_config_for_name("euler", model).to_json().contains("clip_sample"));
        // Python's -Infinity.
        const json j = daub::parse_scheduler_config(
            R"({"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity,)"
            R"( "note": "-Infinity stays text"})",
            "test");
        QCOMPARE(QString::fromStdString(j.at("note").get<std::string>()), QString("-Infinity stays text"));
        auto dpm = daub::make_scheduler_from_config(j);
        QVERIFY(std::isinf(dpm->config().lambda_min_clipped) &&
                dpm->config().lambda_min_clipped < 0);
        QVERIFY_THROWS_EXCEPTION(daub::ModelError, daub::parse_scheduler_config("{", "bad.json"));
    }
};

QTEST_APPLESS_MAIN(TestSchedulers)
#include "test_schedulers.moc"
