#include "samplers.h"

#include <QVariantMap>

namespace daub::samplers {
namespace {

struct Sampler {
    const char16_t* id;
    const char16_t* a1111;
};

// Engine name and A1111's name. PNDM with skip_prk_steps is PLMS.
constexpr Sampler kSamplers[] = {
    {u"euler_a", u"Euler a"},
    {u"euler", u"Euler"},
    {u"dpmpp_2m", u"DPM++ 2M"},
    {u"dpmpp_2m_karras", u"DPM++ 2M Karras"},
    {u"ddim", u"DDIM"},
    {u"pndm", u"PLMS"},
    {u"lms", u"LMS"},
    {u"heun", u"Heun"},
};

} // namespace

QStringList engineNames() {
    QStringList names;
    for (const Sampler& s : kSamplers)
        names << QString::fromUtf16(s.id);
    return names;
}

QVariantList forUi(const QString& modelDefault) {
    QVariantList list;
    const QString fallback = modelDefault.isEmpty() ? QString() : a1111Name(modelDefault);
    list << QVariantMap{{QStringLiteral("id"), QString()},
                        {QStringLiteral("label"),
                         fallback.isEmpty() ? QStringLiteral("Model default")
                                            : QStringLiteral("Model default (%1)").arg(fallback)}};
    for (const Sampler& s : kSamplers)
        list << QVariantMap{{QStringLiteral("id"), QString::fromUtf16(s.id)},
                            {QStringLiteral("label"), QString::fromUtf16(s.a1111)}};
    return list;
}

QString a1111Name(const QString& engineName) {
    for (const Sampler& s : kSamplers)
        if (engineName == QStringView(s.id))
            return QString::fromUtf16(s.a1111);
    return engineName;
}

QString fromA1111(const QString& sampler, const QString& scheduleType) {
    QString name = sampler.trimmed();
    if (scheduleType.trimmed().compare(u"Karras", Qt::CaseInsensitive) == 0 &&
        !name.endsWith(u" Karras", Qt::CaseInsensitive))
        name += QStringLiteral(" Karras");
    for (const Sampler& s : kSamplers)
        if (name.compare(QStringView(s.a1111), Qt::CaseInsensitive) == 0 ||
            name.compare(QStringView(s.id), Qt::CaseInsensitive) == 0)
            return QString::fromUtf16(s.id);
    if (name.compare(u"PNDM", Qt::CaseInsensitive) == 0)
        return QStringLiteral("pndm");
    return {};
}

} // namespace daub::samplers
