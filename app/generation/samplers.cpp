#include "generation/samplers.h"

#include "metadata/image_parameters.h"

#include <QVariantMap>

namespace daub::samplers {

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

} // namespace daub::samplers
