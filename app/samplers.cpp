#include "samplers.h"

#include "metadata/image_parameters.h"

#include <QVariantMap>

namespace daub::samplers {

QStringList engineNames() {
    QStringList names;
    for (const SamplerName& s : sampler_names())
        names << QString::fromLatin1(s.scheduler);
    return names;
}

QVariantList forUi(const QString& modelDefault) {
    QVariantList list;
    const QString fallback = modelDefault.isEmpty() ? QString() : a1111Name(modelDefault);
    list << QVariantMap{{QStringLiteral("id"), QString()},
                        {QStringLiteral("label"),
                         fallback.isEmpty() ? QStringLiteral("Model default")
                                            : QStringLiteral("Model default (%1)").arg(fallback)}};
    for (const SamplerName& s : sampler_names())
        list << QVariantMap{{QStringLiteral("id"), QString::fromLatin1(s.scheduler)},
                            {QStringLiteral("label"), QString::fromLatin1(s.label)}};
    return list;
}

QString a1111Name(const QString& engineName) {
    return QString::fromStdString(sampler_label(engineName.toStdString()));
}

QString fromA1111(const QString& sampler, const QString& scheduleType) {
    return QString::fromStdString(scheduler_from_label(sampler.toStdString(), scheduleType.toStdString()));
}

} // namespace daub::samplers
