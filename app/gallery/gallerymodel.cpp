#include "gallery/gallerymodel.h"

#include <QJSEngine>
#include <QLocale>
#include <QScopedValueRollback>
#include <QSet>
#include <QUrl>
#include <QVariantMap>

#include <algorithm>

namespace daub {

namespace {
GalleryModel* s_instance = nullptr;

/// More changes than this in one merge: a reset is cheaper for the view.
constexpr int kMaxMergeSteps = 64;

bool sameContent(const HistoryEntry& a, const HistoryEntry& b) {
    return a.favourite == b.favourite && a.imageFile == b.imageFile && a.prompt == b.prompt &&
           a.negativePrompt == b.negativePrompt && a.model == b.model &&
           a.parameters == b.parameters && a.width == b.width && a.height == b.height &&
           a.seed == b.seed && a.created == b.created;
}
} // namespace

GalleryModel::GalleryModel(HistoryStore* store, QObject* parent)
    : QAbstractListModel(parent), m_store(store) {
    m_query.withImageOnly = true;
    m_reloadTimer.setSingleShot(true);
    m_reloadTimer.setInterval(0);
    connect(&m_reloadTimer, &QTimer::timeout, this, &GalleryModel::reload);
    m_undoTimer.setSingleShot(true);
    m_undoTimer.setInterval(kUndoWindow);
    connect(&m_undoTimer, &QTimer::timeout, this, &GalleryModel::purgePending);
    if (m_store)
        connect(m_store, &HistoryStore::changed, this, [this] { schedule(false); });
    schedule(true);
}

GalleryModel::~GalleryModel() {
    if (s_instance == this)
        s_instance = nullptr;
    if (m_store && m_store->isOpen() && !m_pendingRemoval.isEmpty()) {
        m_pendingRemoval.clear();
        QSignalBlocker block(m_store); // nobody to tell: this model goes
        m_store->purgeRemoved();
    }
}

GalleryModel* GalleryModel::create(QQmlEngine*, QJSEngine*) {
    Q_ASSERT_X(s_instance, "GalleryModel::create", "no GalleryModel instance was set");
    QJSEngine::setObjectOwnership(s_instance, QJSEngine::CppOwnership);
    return s_instance;
}

void GalleryModel::setInstance(GalleryModel* instance) {
    s_instance = instance;
}

int GalleryModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

QVariant GalleryModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= m_rows.size())
        return {};
    const HistoryEntry& e = m_rows.at(index.row());
    switch (role) {
    case IdRole:
        return e.id;
    case ImageSourceRole:
        return QUrl::fromLocalFile(e.imageFile).toString();
    case PromptRole:
    case Qt::DisplayRole:
        return e.prompt;
    case NegativePromptRole:
        return e.negativePrompt;
    case ModelRole:
        return e.model;
    case CreatedRole:
        return e.created.toLocalTime();
    case CreatedTextRole:
        return QLocale().toString(e.created.toLocalTime(), QLocale::ShortFormat);
    case FavouriteRole:
        return e.favourite;
    case WidthRole:
        return e.width;
    case HeightRole:
        return e.height;
    case SeedRole:
        return e.seed;
    case ParametersRole:
        return e.parameters;
    default:
        return {};
    }
}

QHash<int, QByteArray> GalleryModel::roleNames() const {
    return {
        {IdRole, "entryId"},
        {ImageSourceRole, "imageSource"},
        {PromptRole, "prompt"},
        {NegativePromptRole, "negativePrompt"},
        {ModelRole, "modelName"},
        {CreatedRole, "created"},
        {CreatedTextRole, "createdText"},
        {FavouriteRole, "favourite"},
        {WidthRole, "width"},
        {HeightRole, "height"},
        {SeedRole, "seed"},
        {ParametersRole, "parameters"},
    };
}

bool GalleryModel::canFetchMore(const QModelIndex& parent) const {
    return !parent.isValid() && m_rows.size() < m_count;
}

void GalleryModel::fetchMore(const QModelIndex& parent) {
    if (parent.isValid() || !m_store)
        return;
    loadMore();
}

void GalleryModel::loadMore() {
    // Not from a slot of this model's own insertions or reset (a view that
    // asks for more at once): the rows are being replaced.
    if (!m_store || m_updating || m_rows.size() >= m_count)
        return;
    HistoryQuery page = m_query;
    page.offset = static_cast<int>(m_rows.size());
    page.limit = m_pageSize;
    const QList<HistoryEntry> more = m_store->search(page);
    // An entry added since the last page shifts the offsets by one: skip
    // what is already shown (the next reload puts it in its place).
    QSet<qint64> shown;
    shown.reserve(m_rows.size());
    for (const HistoryEntry& e : std::as_const(m_rows))
        shown.insert(e.id);
    QList<HistoryEntry> fresh;
    for (const HistoryEntry& e : more)
        if (!shown.contains(e.id))
            fresh.append(e);
    if (fresh.isEmpty()) {
        if (more.isEmpty() && m_count > m_rows.size()) { // the count was stale
            m_count = static_cast<int>(m_rows.size());
            Q_EMIT countChanged();
        }
        return;
    }
    const int first = static_cast<int>(m_rows.size());
    beginInsertRows({}, first, first + static_cast<int>(fresh.size()) - 1);
    m_rows.append(fresh);
    endInsertRows();
}

int GalleryModel::rowOf(qint64 id) const {
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows.at(i).id == id)
            return i;
    return -1;
}

QVariantMap GalleryModel::get(int row) const {
    QVariantMap map;
    if (row < 0 || row >= m_rows.size())
        return map;
    const QModelIndex at = index(row);
    const auto names = roleNames();
    for (auto it = names.cbegin(); it != names.cend(); ++it)
        map.insert(QString::fromLatin1(it.value()), data(at, it.key()));
    return map;
}

bool GalleryModel::setFavourite(qint64 id, bool favourite) {
    if (!m_store)
        return false;
    const bool ok = m_store->setFavourite(id, favourite);
    // Shown at once (the reload that follows the store's signal agrees).
    const int row = rowOf(id);
    if (ok && row >= 0 && m_rows[row].favourite != favourite) {
        m_rows[row].favourite = favourite;
        Q_EMIT dataChanged(index(row), index(row), {FavouriteRole});
    }
    return ok;
}

bool GalleryModel::remove(qint64 id) {
    if (!m_store || !m_store->remove(id))
        return false;
    // Removals close together are undone together; the window starts anew.
    m_pendingRemoval.append(id);
    m_undoTimer.start();
    Q_EMIT undoChanged();
    return true;
}

bool GalleryModel::undo() {
    if (m_pendingRemoval.isEmpty() || !m_store)
        return false;
    const QList<qint64> ids = std::exchange(m_pendingRemoval, {});
    m_undoTimer.stop();
    bool any = false;
    for (const qint64 id : ids)
        any = m_store->restore(id) || any;
    Q_EMIT undoChanged();
    return any;
}

int GalleryModel::removeAllButFavourites() {
    if (!m_store)
        return 0;
    purgePending();
    return m_store->removeAllButFavourites();
}

void GalleryModel::refresh() {
    m_reloadTimer.stop();
    m_resetPending = true;
    reload();
}

void GalleryModel::setUndoWindow(std::chrono::milliseconds window) {
    m_undoTimer.setInterval(window);
}

void GalleryModel::setPageSize(int rows) {
    m_pageSize = std::max(1, rows);
}

std::chrono::milliseconds GalleryModel::undoWindow() const {
    return m_undoTimer.intervalAsDuration();
}

void GalleryModel::setSearchText(const QString& text) {
    if (text == m_query.text)
        return;
    m_query.text = text;
    Q_EMIT searchTextChanged();
    schedule(true);
}

void GalleryModel::setFavouritesOnly(bool on) {
    if (on == m_query.favouritesOnly)
        return;
    m_query.favouritesOnly = on;
    Q_EMIT favouritesOnlyChanged();
    schedule(true);
}

void GalleryModel::setModel(const QString& model) {
    if (model == m_query.model)
        return;
    m_query.model = model;
    Q_EMIT modelChanged();
    schedule(true);
}

void GalleryModel::setNewestFirst(bool newestFirst) {
    if (newestFirst == m_query.newestFirst)
        return;
    m_query.newestFirst = newestFirst;
    Q_EMIT newestFirstChanged();
    schedule(true);
}

QString GalleryModel::diskUsageText() const {
    return formatBytes(m_diskUsage);
}

QString GalleryModel::folder() const {
    return m_store ? m_store->folder() : QString();
}

QString GalleryModel::undoText() const {
    const auto n = m_pendingRemoval.size();
    return n == 1 ? tr("Deleted 1 image") : tr("Deleted %1 images").arg(n);
}

QString GalleryModel::formatBytes(qint64 bytes) {
    return QLocale().formattedDataSize(std::max<qint64>(0, bytes), 1, QLocale::DataSizeSIFormat);
}

void GalleryModel::schedule(bool reset) {
    m_resetPending = m_resetPending || reset;
    if (!m_reloadTimer.isActive())
        m_reloadTimer.start();
}

void GalleryModel::reload() {
    const bool reset = std::exchange(m_resetPending, false);
    const int before = m_count;
    readTotals();
    HistoryQuery query = m_query;
    query.offset = 0;
    // A merge keeps what the grid has loaded (it may be scrolled far down),
    // and as many rows more as came.
    const int loaded = static_cast<int>(m_rows.size()) + std::max(0, m_count - before);
    query.limit = reset ? m_pageSize : std::max(m_pageSize, loaded);
    const QList<HistoryEntry> fresh = m_store ? m_store->search(query) : QList<HistoryEntry>();
    const QScopedValueRollback updating(m_updating, true);
    if (reset) {
        beginResetModel();
        m_rows = fresh;
        endResetModel();
    } else {
        merge(fresh);
    }
}

void GalleryModel::merge(const QList<HistoryEntry>& fresh) {
    QSet<qint64> freshIds;
    freshIds.reserve(fresh.size());
    for (const HistoryEntry& e : fresh)
        freshIds.insert(e.id);

    // Both lists are in the query's order: one walk finds every step.
    // Count them first; many steps (a filter-sized change) reset instead.
    int steps = 0;
    {
        int i = 0, j = 0;
        while (i < m_rows.size() && j < fresh.size() && steps <= kMaxMergeSteps) {
            if (m_rows.at(i).id == fresh.at(j).id) {
                ++i;
                ++j;
            } else if (!freshIds.contains(m_rows.at(i).id)) {
                ++i;
                ++steps;
            } else {
                ++j;
                ++steps;
            }
        }
        steps += static_cast<int>((m_rows.size() - i) + (fresh.size() - j));
    }
    if (steps > kMaxMergeSteps) {
        beginResetModel();
        m_rows = fresh;
        endResetModel();
        return;
    }

    int i = 0;
    int j = 0;
    while (j < fresh.size()) {
        if (i < m_rows.size() && m_rows.at(i).id == fresh.at(j).id) {
            if (!sameContent(m_rows.at(i), fresh.at(j))) {
                m_rows[i] = fresh.at(j);
                Q_EMIT dataChanged(index(i), index(i));
            }
            ++i;
            ++j;
        } else if (i < m_rows.size() && !freshIds.contains(m_rows.at(i).id)) {
            beginRemoveRows({}, i, i);
            m_rows.removeAt(i);
            endRemoveRows();
        } else {
            beginInsertRows({}, i, i);
            m_rows.insert(i, fresh.at(j));
            endInsertRows();
            ++i;
            ++j;
        }
    }
    if (i < m_rows.size()) {
        beginRemoveRows({}, i, static_cast<int>(m_rows.size()) - 1);
        m_rows.remove(i, m_rows.size() - i);
        endRemoveRows();
    }
    // The walk assumes one order in both lists; should they ever disagree
    // (a clock that went back, ties), the rows are replaced.
    bool same = m_rows.size() == fresh.size();
    for (int k = 0; same && k < fresh.size(); ++k)
        same = m_rows.at(k).id == fresh.at(k).id;
    if (!same) {
        beginResetModel();
        m_rows = fresh;
        endResetModel();
    }
}

void GalleryModel::readTotals() {
    const bool open = m_store && m_store->isOpen();
    HistoryQuery all;
    const int count = open ? m_store->count(m_query) : 0;
    const int total = open ? m_store->count(all) : 0;
    all.favouritesOnly = true;
    const int favourites = open ? m_store->count(all) : 0;
    if (count != m_count || total != m_totalCount || favourites != m_favouriteCount) {
        m_count = count;
        m_totalCount = total;
        m_favouriteCount = favourites;
        Q_EMIT countChanged();
    }
    const QStringList models = open ? m_store->models() : QStringList();
    if (models != m_models) {
        m_models = models;
        Q_EMIT modelsChanged();
    }
    const qint64 usage = open ? m_store->diskUsage() : 0;
    if (usage != m_diskUsage) {
        m_diskUsage = usage;
        Q_EMIT diskUsageChanged();
    }
}

void GalleryModel::purgePending() {
    m_undoTimer.stop();
    if (m_pendingRemoval.isEmpty())
        return;
    m_pendingRemoval.clear();
    if (m_store)
        m_store->purgeRemoved();
    Q_EMIT undoChanged();
}

} // namespace daub
