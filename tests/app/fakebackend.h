// An EngineBackend for tests: loads anything but paths containing
// "broken" (and VAEs whose path contains "broken"), paints a seed-coloured
// image of the requested size, reports every step, honours the cancel
// token, and fails on the prompt "fail". Upscaling scales the image by the
// level (smoothly), one "tile" per 32 output rows; an upscaler path
// containing "broken" fails like a file that is not an upscaler.
// What it saw is recorded in a Log shared with the test (the backend lives
// on the engine thread).
#pragma once

#include "core/errors.h"
#include "generation/enginebackend.h"

#include <QFileInfo>
#include <QMutex>
#include <QThread>

#include <atomic>
#include <memory>

namespace daub::test {

struct FakeLog {
    QMutex mutex;
    QStringList prompts;              ///< in the order generate() saw them
    QList<QSize> initSizes;           ///< init image sizes (empty size: txt2img)
    QList<float> strengths;
    QStringList vaes;                 ///< the VAE of each load ("" = the model's own)
    QList<int> upscaleLevels;         ///< level of each upscale (generation or action)
    QList<QSize> upscaleInputs;       ///< size of each image upscaled
    QList<double> refineStrengths;    ///< of each refine pass
    std::atomic<int> loads{0};
    std::atomic<int> loadDelayMs{0};  ///< time per "tensor" while loading (10 of them)
    std::atomic<int> generations{0};
    std::atomic<int> stepDelayMs{0};  ///< time per step
    std::atomic<bool> inStep{false};  ///< set while a step "runs"
};

class FakeBackend final : public EngineBackend {
public:
    explicit FakeBackend(std::shared_ptr<FakeLog> log) : m_log(std::move(log)) {}

    bool hasModel() const override { return m_loaded; }

    ModelDescription load(const ModelLoadRequest& request, const ModelLoadProgressFn& onProgress,
                          const CancelToken* cancel) override {
        const QString& path = request.path;
        ++m_log->loads;
        {
            QMutexLocker lock(&m_log->mutex);
            m_log->vaes << request.vaePath;
        }
        // As the real engine: a file that is no model is refused from its
        // header, before the loaded model is let go; a VAE that does not fit
        // shows only once the model is on its way.
        if (path.contains(QStringLiteral("broken")))
            throw ModelError("The model file is damaged: its header is not valid safetensors.");
        m_loaded = false;
        if (request.vaePath.contains(QStringLiteral("broken")))
            throw ModelError("The VAE file does not fit this model.");
        for (int tensor = 1; tensor <= 10; ++tensor) {
            if (cancel && cancel->cancelled())
                throw CancelledError("Loading the model was cancelled.");
            QThread::msleep(m_log->loadDelayMs.load());
            if (onProgress)
                onProgress(tensor * 100, 1000);
        }
        m_loaded = true;
        ModelDescription d;
        d.name = QFileInfo(path).fileName();
        d.path = path;
        d.family = QStringLiteral("SD 1.5");
        d.defaultWidth = 64;
        d.defaultHeight = 64;
        d.defaultSampler = QStringLiteral("pndm");
        d.device = QStringLiteral("cpu");
        d.dtype = QStringLiteral("fp32");
        d.vaePath = request.vaePath;
        d.vaeName = QFileInfo(request.vaePath).fileName();
        d.identity = path + u'|' + request.vaePath;
        d.countTokens = [](const std::string& prompt) { // a word a token, "(a:x)" is bad
            if (prompt.find(":x)") != std::string::npos)
                throw RequestError("The weight in (a:x) is not a number.");
            const int words = int(QString::fromStdString(prompt).split(
                u' ', Qt::SkipEmptyParts).size());
            return PromptTokenCount{words, std::max(1, (words + 74) / 75) * 75};
        };
        return d;
    }

    EngineOutput generate(const GenerationRequest& request, const UpscaleRequest& upscale,
                          const StepFn& onStep, const CancelToken* cancel) override {
        EngineOutput out = paint(request, onStep, cancel, JobPhase::Denoise);
        if (upscale.enabled()) {
            GenerationRequest second = request;
            second.init_image = toEngineImage(out.image);
            out = this->upscale(second, upscale, onStep, cancel);
        }
        return out;
    }

    EngineOutput upscale(const GenerationRequest& request, const UpscaleRequest& upscale,
                         const StepFn& onStep, const CancelToken* cancel) override {
        if (upscale.upscalerPath.contains(QStringLiteral("broken")))
            throw UnsupportedModelError("The file is not an RRDBNet (Real-ESRGAN) upscaler.");
        const QImage in = toQImage(*request.init_image);
        {
            QMutexLocker lock(&m_log->mutex);
            m_log->upscaleLevels << upscale.level;
            m_log->upscaleInputs << in.size();
        }
        const int tiles = std::max(1, in.height() * upscale.level / 32);
        for (int tile = 1; tile <= tiles; ++tile) {
            if (cancel && cancel->cancelled())
                throw CancelledError();
            QThread::msleep(m_log->stepDelayMs.load());
            if (onStep)
                onStep(StepUpdate{tile, tiles, double(tile), QImage(), JobPhase::Upscale});
        }
        EngineOutput out;
        out.image = in.scaled(in.size() * upscale.level, Qt::IgnoreAspectRatio,
                              Qt::SmoothTransformation);
        out.seed = request.seed;
        if (upscale.refineStrength) {
            {
                QMutexLocker lock(&m_log->mutex);
                m_log->refineStrengths << *upscale.refineStrength;
            }
            GenerationRequest refine = request;
            refine.init_image = toEngineImage(out.image);
            refine.width = out.image.width();
            refine.height = out.image.height();
            refine.strength = float(*upscale.refineStrength);
            out = paint(refine, onStep, cancel, JobPhase::Refine);
        }
        out.upscaler = QFileInfo(upscale.upscalerPath).completeBaseName();
        out.upscaleLevel = upscale.level;
        out.upscaleMethod = out.upscaler + QStringLiteral(" \u00d7%1").arg(upscale.level);
        return out;
    }

private:
    EngineOutput paint(const GenerationRequest& request, const StepFn& onStep,
                       const CancelToken* cancel, JobPhase phase) {
        if (!m_loaded)
            throw ModelError("No model is loaded.");
        ++m_log->generations;
        {
            QMutexLocker lock(&m_log->mutex);
            m_log->prompts << QString::fromStdString(request.prompt);
            m_log->initSizes << (request.init_image
                                     ? QSize(request.init_image->width, request.init_image->height)
                                     : QSize());
            m_log->strengths << request.strength;
        }
        if (request.prompt == "fail")
            throw RequestError("The prompt asked the fake engine to fail.");
        const int total = request.init_image
                              ? std::max(1, int(float(request.steps) * request.strength))
                              : request.steps;
        for (int step = 1; step <= total; ++step) {
            if (cancel && cancel->cancelled())
                throw CancelledError();
            m_log->inStep = true;
            QThread::msleep(m_log->stepDelayMs.load());
            m_log->inStep = false;
            QImage preview(8, 8, QImage::Format_RGB888);
            preview.fill(QColor(step * 20 % 256, 0, 0));
            if (onStep)
                onStep(StepUpdate{step, total, double(step), preview, phase});
        }
        EngineOutput out;
        if (request.init_image) { // the init image, warmed up, at the size asked for
            out.image = toQImage(*request.init_image)
                            .scaled(request.width, request.height, Qt::IgnoreAspectRatio,
                                    Qt::SmoothTransformation);
            for (int y = 0; y < out.image.height(); ++y)
                for (int x = 0; x < out.image.width(); ++x) {
                    const QColor c = out.image.pixelColor(x, y);
                    out.image.setPixelColor(x, y, QColor(255 - c.blue(), c.red(), c.green()));
                }
        } else {
            out.image = QImage(request.width, request.height, QImage::Format_RGB888);
            out.image.fill(QColor(int(request.seed % 256), 100, 200));
        }
        out.seed = request.seed;
        out.stepsRun = total;
        out.sampler = request.scheduler.empty() ? QStringLiteral("pndm")
                                                : QString::fromStdString(request.scheduler);
        out.totalMs = total;
        return out;
    }

    std::shared_ptr<FakeLog> m_log;
    bool m_loaded = false;
};

} // namespace daub::test
