// The whole chat accepts images: dropped files, images dragged from a
// browser (an address, HTML with an <img>, or the image's bytes). While
// something hovers, an outline says what dropping does. The drop goes up
// as a plain map for InitImageIntake.dropImage():
//   {urls: [url], formats: [string], html, text, data: {mimeType: bytes}}
import QtQuick
import QtQuick.Controls

DropArea {
    id: root

    /// True while a drag hovers over the chat.
    readonly property bool hovering: containsDrag
    /// The chat itself.
    default property alias content: contentItem.data

    /// Something was dropped; `drop` is the map described above.
    signal imageDropped(var drop)

    /// MIME types whose bytes are passed on.
    readonly property var imageTypes: ["image/png", "image/jpeg", "image/webp", "image/bmp",
                                       "image/x-bmp", "image/jpg"]

    /// Turns a DragEvent (or anything shaped like one) into the map.
    function collect(drop) {
        const result = { urls: [], formats: [], html: "", text: "", data: {} }
        if (drop.hasUrls)
            for (let i = 0; i < drop.urls.length; ++i)
                result.urls.push(drop.urls[i])
        if (drop.formats)
            for (let i = 0; i < drop.formats.length; ++i)
                result.formats.push(drop.formats[i])
        if (drop.hasHtml)
            result.html = drop.html
        if (drop.hasText)
            result.text = drop.text
        for (let i = 0; i < result.formats.length; ++i) {
            const type = result.formats[i]
            if (imageTypes.indexOf(type) >= 0)
                result.data[type] = drop.getDataAsArrayBuffer(type)
        }
        return result
    }

    /// Handles a drop; returns the map it sent up.
    function handleDrop(drop) {
        const collected = collect(drop)
        root.imageDropped(collected)
        return collected
    }

    onDropped: (drop) => {
        handleDrop(drop)
        drop.accept(Qt.CopyAction)
    }

    Item {
        id: contentItem
        anchors.fill: parent
    }

    Rectangle {
        id: overlay
        objectName: "dropOverlay"
        anchors.fill: parent
        anchors.margins: 10
        visible: root.hovering
        radius: Theme.radius * 1.5
        color: Qt.rgba(Theme.dropHighlight.r, Theme.dropHighlight.g, Theme.dropHighlight.b, 0.92)
        border.color: Theme.accent
        border.width: 2

        Column {
            anchors.centerIn: parent
            spacing: 10

            Image {
                anchors.horizontalCenter: parent.horizontalCenter
                source: "qrc:/daub/icons/image.svg"
                sourceSize: Qt.size(48, 48)
                opacity: 0.8
            }
            Label {
                anchors.horizontalCenter: parent.horizontalCenter
                text: qsTr("Drop the image to start from it")
                font.pixelSize: 20
                font.weight: Font.DemiBold
                color: Theme.text
            }
            Label {
                anchors.horizontalCenter: parent.horizontalCenter
                text: qsTr("PNG, JPEG, WebP or BMP, up to 50 megapixels")
                color: Theme.mutedText
            }
        }
    }
}
