// An EngineBackend for tests: loads anything but paths containing
// "broken", paints a seed-coloured image of the requested size, reports
// every step, honours the cancel token, and fails on the prompt "fail".
// What it saw is recorded in a Log shared with the test (the backend lives
// on the engine thread).
#pragma once

#include "core/errors.h"
#include "enginebackend.h"

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
    std::atomic<int> loads{0};
    std::atomic<int> generations{0};
    std::atomic<int> stepDelayMs{0};  ///< time per step
    std::atomic<bool> inStep{false};  ///< set while a step "runs"
};

class FakeBackend final : public EngineBackend {
public:
    explicit FakeBackend(std::shared_ptr<FakeLog> log) : m_log(std::move(log)) {}

    ModelDescription load(const QString& path) override {
        ++m_log->loads;
        m_loaded = false;
        if (path.contains(QStringLiteral("broken")))
            throw ModelError("The model file is damaged: its header is not valid safetensors.");
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
        return d;
    }

    EngineOutput generate(const GenerationRequest& request, const StepFn& onStep,
                          const CancelToken* cancel) override {
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
                onStep(StepUpdate{step, total, double(step), preview});
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

private:
    std::shared_ptr<FakeLog> m_log;
    bool m_loaded = false;
};

} // namespace daub::test
