#include "server/filehashes.h"

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>

namespace daub {
namespace {

QString hashFile(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    QCryptographicHash hash(QCryptographicHash::Sha256);
    return hash.addData(&file) ? QString::fromLatin1(hash.result().toHex()) : QString();
}

QThreadPool& hashPool() {
    static QThreadPool pool;
    static const bool oneAtATime = [] { // reading is the bottleneck
        pool.setMaxThreadCount(1);
        return true;
    }();
    (void)oneAtATime;
    return pool;
}

} // namespace

FileHashes::~FileHashes() {
    if (m_running > 0)
        hashPool().waitForDone();
}

QString FileHashes::sha256(const QString& path) {
    const QFileInfo info(path);
    if (!info.isFile())
        return {};
    const auto it = m_entries.constFind(path);
    if (it != m_entries.cend() && it->size == info.size() && it->modified == info.lastModified())
        return it->sha256;
    m_entries.insert(path, {info.size(), info.lastModified(), {}});
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, path] {
        --m_running;
        const QString digest = watcher->result();
        watcher->deleteLater();
        if (auto e = m_entries.find(path); e != m_entries.end()) {
            e->sha256 = digest;
            Q_EMIT hashed(path);
        }
    });
    ++m_running;
    QFuture<QString> future = QtConcurrent::run(&hashPool(), hashFile, path);
    watcher->setFuture(future);
    return {};
}

} // namespace daub
