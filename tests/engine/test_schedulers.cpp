// The schedulers against diffusers: every schedule table of
// golden/schedulers.json and golden/schedulers_fast.json (timesteps equal,
// sigmas within 1e-5 relative, order, init_noise_sigma), every
// golden/sched_<name>_<mode>_<steps>_<strength> sampling loop with the fake
// model eps = 0.5·scale_model_input(x, t) + 0.001·t (final within
// 1e-4 · max(1, max |final|)), the from_config rule against the pipelines'
// effective scheduler configs, and the factory's errors.
//
// A case is taken when Daub implements its scheduler class (and, for a
// pipe_* golden, its sampler name and pipeline); left_out() names every case
// still left out, so that list can only shrink as samplers land.
//
// How to add a case: drop a new sched_*.json / .safetensors pair (or a new
// name in a schedule table) into the fixtures; the _data() functions list
// them from the folder.
#include "golden.h"
#include "tools/golden_case.h"

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
#include <map>
#include <memory>
#include <set>
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

/// `actual` less the config keys diffusers added after the version that
/// made `expected` (0.31 has no flow_shift, ...), where they hold the value
/// that changes nothing: a golden of the older version lacks them.
json without_later_keys(json actual, const json& expected) {
    static const json later = {{"flow_shift", 1.0},
                               {"use_flow_sigmas", false},
                               {"time_shift_type", "exponential"},
                               {"use_dynamic_shifting", false}};
    for (const auto& [key, neutral] : later.items())
        if (!expected.contains(key) && actual.contains(key) && actual.at(key) == neutral)
            actual.erase(key);
    return actual;
}

/// The scheduler an entry describes, or null with `why` set when its class
/// or one of its settings is one Daub does not implement.
std::unique_ptr<daub::Scheduler> try_make(const json& entry, std::string* why = nullptr) {
    try {
        return daub::make_scheduler_from_config(class_config(entry));
    } catch (const daub::ModelError& e) {
        if (why)
            *why = e.what();
        return nullptr;
    }
}

/// The stems of golden/<prefix>*.json, sorted.
std::vector<std::string> golden_stems(const std::string& prefix) {
    std::vector<std::string> stems;
    for (const auto& e : std::filesystem::directory_iterator(daub::test::fixture("golden"))) {
        const auto file = e.path().filename().string();
        if (file.rfind(prefix, 0) == 0 && e.path().extension() == ".json")
            stems.push_back(e.path().stem().string());
    }
    std::sort(stems.begin(), stems.end());
    return stems;
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

    /// The schedule tables by file name: schedulers.json (the samplers of the
    /// pipelines) and schedulers_fast.json (few-step samplers, spacings).
    std::map<std::string, json> tables_;

    /// The entry `name` of schedule table `table`.
    const json& entry(const std::string& table, const std::string& name) const {
        return tables_.at(table).at(name);
    }
    /// The table entry a sched_* golden was made with.
    const json& entry_of(const json& spec) const {
        return entry(spec.value("scheduler_table", "schedulers.json"),
                     spec.at("scheduler").get<std::string>());
    }
    json spec_of(const std::string& stem) const {
        return daub::read_scheduler_config(daub::test::fixture("golden/" + stem + ".json"));
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
        for (const char* file : {"schedulers.json", "schedulers_fast.json"}) {
            tables_[file] = daub::read_scheduler_config(daub::test::fixture(std::string("golden/") + file));
            QVERIFY2(tables_[file].is_object() && !tables_[file].empty(),
                     (std::string("golden/") + file + " is empty").c_str());
        }
    }

    // --- set_timesteps tables ------------------------------------------------

    void tables_data() {
        QTest::addColumn<QString>("table");
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("steps");
        for (const auto& [table, t] : tables_)
            for (const auto& [name, e] : t.items())
                if (try_make(e))
                    for (const auto& [steps, _] : e.at("steps").items())
                        QTest::newRow((table + ":" + name + "/" + steps).c_str())
                            << QString::fromStdString(table) << QString::fromStdString(name)
                            << QString::fromStdString(steps);
    }

    void tables() {
        QFETCH(QString, table);
        QFETCH(QString, name);
        QFETCH(QString, steps);
        const json& entry = this->entry(table.toStdString(), name.toStdString());
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
        QTest::addColumn<QString>("table");
        QTest::addColumn<QString>("name");
        for (const auto& [table, t] : tables_)
            for (const auto& [name, e] : t.items())
                if (try_make(e))
                    QTest::newRow((table + ":" + name).c_str())
                        << QString::fromStdString(table) << QString::fromStdString(name);
    }

    void full_config() {
        QFETCH(QString, table);
        QFETCH(QString, name);
        const json& entry = this->entry(table.toStdString(), name.toStdString());
        auto sched = daub::make_scheduler_from_config(class_config(entry));
        QCOMPARE(QString::fromStdString(sched->class_name()),
                 QString::fromStdString(entry.at("class").get<std::string>()));
        const json& expected = entry.at("full_config");
        const json actual = without_later_keys(sched->config().to_json(), expected);
        QVERIFY2(actual == expected,
                 ("effective config\n" + actual.dump() + "\ndiffers from\n" + expected.dump())
                     .c_str());
    }

    /// Scheduler chosen by name on a model: the pipelines' effective configs,
    /// for every pipe_* golden whose sampler name Daub has.
    void config_by_name_data() {
        QTest::addColumn<QString>("pipe");
        const auto names = daub::scheduler_names();
        for (const auto& stem : golden_stems("pipe_")) {
            const std::string file = daub::test::fixture("golden/" + stem + ".json");
            const std::string sampler = daub::read_scheduler_config(file).at("scheduler");
            if (std::find(names.begin(), names.end(), sampler) != names.end())
                QTest::newRow(stem.c_str()) << QString::fromStdString(file);
        }
    }

    void config_by_name() {
        QFETCH(QString, pipe);
        const json golden = daub::read_scheduler_config(pipe.toStdString());
        // "tiny-sd15 + tiny-sd15-controlnet": the base model's scheduler.
        std::string model = golden.at("model");
        model = model.substr(0, model.find(" + "));
        const json model_config = daub::read_scheduler_config(
            daub::test::fixture(model + "/scheduler/scheduler_config.json"));
        const json overrides = {{"clip_sample", false}, {"steps_offset", 1}};
        auto sched = daub::make_scheduler(golden.at("scheduler").get<std::string>(), model_config, overrides);
        QCOMPARE(QString::fromStdString(sched->class_name()),
                 QString::fromStdString(golden.at("scheduler_class").get<std::string>()));
        const json& expected = golden.at("scheduler_config");
        const json actual = without_later_keys(sched->config().to_json(), expected);
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
        const auto stems = golden_stems("sched_");
        QVERIFY2(!stems.empty(), "no golden/sched_*.json");
        for (const auto& stem : stems)
            if (try_make(entry_of(spec_of(stem))))
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

        auto sched = daub::make_scheduler_from_config(class_config(entry_of(spec)));
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

    // --- what is still left out ---------------------------------------------

    /// The goldens of samplers and pipelines Daub does not implement yet: an
    /// exact list, so a case can leave it (when its feature lands) but none
    /// can join it unnoticed.
    void left_out() {
        std::set<std::string> schedules;
        for (const auto& [table, t] : tables_)
            for (const auto& [name, e] : t.items()) {
                std::string why;
                if (!try_make(e, &why)) {
                    schedules.insert(table + ":" + name);
                    qInfo("left out %s:%s: %s", table.c_str(), name.c_str(), why.c_str());
                }
            }
        const std::set<std::string> expected_schedules = {
            "schedulers_fast.json:lcm", "schedulers_fast.json:tcd", "schedulers_fast.json:unipc"};
        QCOMPARE(schedules, expected_schedules);

        std::set<std::string> loops;
        for (const auto& stem : golden_stems("sched_"))
            if (!try_make(entry_of(spec_of(stem))))
                loops.insert(stem);
        const std::set<std::string> expected_loops = {
            "sched_lcm_img2img_4_60", "sched_lcm_txt2img_4_100", "sched_tcd_txt2img_4_100",
            "sched_unipc_img2img_10_50", "sched_unipc_txt2img_10_100"};
        QCOMPARE(loops, expected_loops);

        const auto pipes = daub::pipeline_goldens_left_out(daub::test::fixtures_dir());
        for (const auto& [name, missing] : pipes)
            qInfo("left out %s: Daub has no %s", name.c_str(), missing.c_str());
        const std::map<std::string, std::string> expected_pipes = {
            {"pipe_sd15_controlnet", "ControlNet"},
            {"pipe_sd15_img2img_lcm", "the sampler lcm"},
            {"pipe_sd15_img2img_lora_kohya", "LoRAs"},
            {"pipe_sd15_inpaint_9ch", "inpainting"},
            {"pipe_sd15_inpaint_9ch_strength", "inpainting"},
            {"pipe_sd15_inpaint_blur", "inpainting"},
            {"pipe_sd15_inpaint_masked", "inpainting"},
            {"pipe_sd15_inpaint_only_masked", "inpainting"},
            {"pipe_sd15_txt2img_lcm", "the sampler lcm"},
            {"pipe_sd15_txt2img_loha", "LoRAs"},
            {"pipe_sd15_txt2img_lokr", "LoRAs"},
            {"pipe_sd15_txt2img_lora_kohya", "LoRAs"},
            {"pipe_sd15_txt2img_lora_peft", "LoRAs"},
            {"pipe_sd15_txt2img_lora_stack", "LoRAs"},
            {"pipe_sd15_txt2img_taesd", "TAESD"},
            {"pipe_sd15_txt2img_ti", "embeddings"},
            {"pipe_sd15_txt2img_ti_negative", "embeddings"},
            {"pipe_sd15_txt2img_unipc", "the sampler unipc"},
            {"pipe_sdxl_inpaint_masked", "inpainting"},
            {"pipe_sdxl_txt2img_lora_kohya", "LoRAs"},
            {"pipe_sdxl_txt2img_ti", "embeddings"}};
        QCOMPARE(pipes, expected_pipes);

        // What is taken: the pipeline goldens the pipeline tests run.
        const std::vector<std::string> taken = {
            "pipe_sd15_img2img_euler_a",   "pipe_sd15_img2img_full_strength",
            "pipe_sd15_img2img_pndm",      "pipe_sd15_txt2img_clipskip2",
            "pipe_sd15_txt2img_dpmpp_2m_sde_karras",
            "pipe_sd15_txt2img_euler_a",   "pipe_sd15_txt2img_nocfg",
            "pipe_sd15_txt2img_pndm",      "pipe_sdxl_img2img_euler",
            "pipe_sdxl_txt2img_euler",     "pipe_sdxl_txt2img_negative",
            "pipe_sdxl_txt2img_turbo"};
        QVERIFY(daub::pipeline_golden_names(daub::test::fixtures_dir()) == taken);
    }

    // --- factory -------------------------------------------------------------

    void names_and_classes() {
        const std::vector<std::string> expected = {
            "pndm", "ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras",
            "dpmpp_2m_sde_karras", "lms", "heun", "euler_a_trailing"};
        QVERIFY(daub::scheduler_names() == expected);
        // Names that are a setting of another name's class: not what a
        // model's scheduler_config.json is read as.
        const std::set<std::string> variants = {"dpmpp_2m_sde_karras", "euler_a_trailing"};
        for (const auto& name : daub::scheduler_names()) {
            const auto cls = daub::scheduler_class_for_name(name);
            if (!variants.count(name)) {
                QCOMPARE(QString::fromStdString(
                             daub::scheduler_name_for_class(cls, name == "dpmpp_2m_karras").value_or("")),
                         QString::fromStdString(name));
                QCOMPARE(QString::fromStdString(cls),
                         QString::fromStdString(entry("schedulers.json", name).at("class").get<std::string>()));
            }
            // By name on the SD 1.5 model config: the class, and what the name fixes.
            auto sched = daub::make_scheduler(name, entry("schedulers.json", "pndm").at("config"));
            QCOMPARE(QString::fromStdString(sched->class_name()), QString::fromStdString(cls));
            if (cls == "DPMSolverMultistepScheduler") {
                QCOMPARE(QString::fromStdString(sched->config().algorithm_type),
                         QString(name == "dpmpp_2m_sde_karras" ? "sde-dpmsolver++" : "dpmsolver++"));
                QCOMPARE(sched->config().solver_order, 2);
                QCOMPARE(sched->config().use_karras_sigmas, name != "dpmpp_2m");
            }
            if (name == "euler_a_trailing")
                QCOMPARE(QString::fromStdString(sched->config().timestep_spacing), QString("trailing"));
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
